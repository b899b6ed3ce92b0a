"""What a visitor types when handing a result to the gallery."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gallery.models import Creation

TITLE_MAX = Creation._meta.get_field("title").max_length
NAME_MAX = Creation._meta.get_field("visitor_name").max_length


class GallerySubmissionForm(forms.Form):
    """Title and first name are optional.

    `gallery.creations.create_creation` keeps the name only with consent and
    checks both texts against the blocklist; this form checks their shape.
    """

    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX, required=False, strip=True)
    visitor_name = forms.CharField(
        label=_("First name"), max_length=NAME_MAX, required=False, strip=True
    )
    consent = forms.BooleanField(
        label=_("My first name may be shown with the picture"), required=False
    )
