from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from portal.forms import strip


class SignInForm(FlaskForm):
    email = EmailField(
        "Email address",
        filters=[strip],
        validators=[DataRequired("Enter your email address."), Length(max=254, message="An email address is at most 254 characters."),
                    Email("Enter a valid email address, like name@example.com.")],
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=256, message="A password is at most 256 characters.")],
    )
