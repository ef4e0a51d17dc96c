"""Thin handlers: convert the request, call one service method, convert the result.

One handler object serves both transports; method names are the snake_case
RPC names, as the Connect code generator spells them.
"""
