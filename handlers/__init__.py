"""The doors: each folder turns its channel's input into calls on the core (`bot/`) and the answers back.

telegram/  the Telegram Bot API door (PTB handlers, keyboards, the outbox's Telegram sender)
wechat/    the WeChat official-account callback
open311/   the Open311 GeoReport v2 API
web.py     the one HTTP app that mounts the HTTP doors
"""
