"""Placeholder: this protocol's routes are being written."""

from aiohttp import web


def routes(server) -> list[web.RouteDef]:
    return []
