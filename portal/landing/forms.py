from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from portal.forms import no_control_characters, strip


class EnablementRequestForm(FlaskForm):
    message = TextAreaField(
        "Anything support should know (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=1000, message="Keep the note to 1,000 characters or fewer."), no_control_characters],
    )
