from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf, Optional

ORIGINS = ("sync", "setup")


class SyncNowForm(FlaskForm):
    """The *Sync now* button; `origin` says which page it was pressed on (a refusal goes back there)."""

    origin = HiddenField(default="sync", validators=[Optional(), AnyOf(ORIGINS, message="Unknown page.")])
