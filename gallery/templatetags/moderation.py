"""`{% moderation_overview as overview %}`: what waits for curators (the admin's home)."""

from django import template

from gallery import desk

register = template.Library()


@register.simple_tag(takes_context=True)
def moderation_overview(context):
    request = context.get("request")
    return desk.overview(request.user) if request is not None else None
