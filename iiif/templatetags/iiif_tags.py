"""Template tags for linking to IIIF documents: `{% load iiif_tags %}`.

`{% iiif_url "iiif:creation-manifest" slug as url %}` gives a document's
absolute address (the museum's public one when OLPE_PUBLIC_BASE_URL is set),
as IIIF viewers and portals need; `{% iiif_link text "iiif:collection" %}`
renders the IIIF logo linking to it (templates/iiif/manifest_link.html).
"""

from django import template
from django.urls import reverse

from gallery.qr import absolute_url

register = template.Library()


@register.simple_tag(takes_context=True)
def iiif_url(context, name, *args):
    return absolute_url(context["request"], reverse(name, args=args))


@register.inclusion_tag("iiif/manifest_link.html", takes_context=True)
def iiif_link(context, text, name, *args):
    return {"url": iiif_url(context, name, *args), "text": text}
