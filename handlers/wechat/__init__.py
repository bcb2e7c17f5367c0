"""The WeChat door (公众号): the /wechat callback, the customer-service sender for the outbox, the custom menu.

A WeChat user is `services.users.identify("wechat", openid, "")`, the same kind of identity as a Telegram one;
everything goes through the same core services. See docs/WECHAT.md.

    channel = WeChatChannel(services)        # when settings.wechat_token is set
    senders["wechat"] = channel.sender       # the outbox routes rows whose channel is 'wechat' here
    await channel.start()                    # once the outbox runs: re-runs what a killed process left
    web_app.state.wechat = channel           # handlers/web.py mounts `routes()`; without a channel: 404
    ...
    await channel.stop()
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services.container import Services
from handlers.wechat.api import WeChatApi
from handlers.wechat.door import WeChatDoor
from handlers.wechat.sender import WeChatSender


class WeChatChannel:
    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.api: WeChatApi | None = None
        if settings.wechat_appid and settings.wechat_secret:
            self.api = WeChatApi(
                services.db, base=settings.wechat_api_base, appid=settings.wechat_appid, secret=settings.wechat_secret
            )
        self.door = WeChatDoor(services, self.api)
        self.sender = WeChatSender(services, self.api)

    async def start(self) -> int:
        """Before /wechat is served: messages an earlier process took in and did not finish run again."""
        return await self.door.start()

    async def stop(self) -> None:
        await self.door.stop()
        if self.api is not None:
            await self.api.close()


async def _endpoint(request: Request) -> Response:
    channel: WeChatChannel | None = getattr(request.app.state, "wechat", None)
    if channel is None:
        return PlainTextResponse("not found", status_code=404)
    return await channel.door.endpoint(request)


def routes() -> list[BaseRoute]:
    return [Route("/wechat", _endpoint, methods=["GET", "POST"])]
