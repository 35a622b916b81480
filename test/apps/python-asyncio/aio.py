# asyncio streams over 127.0.0.1 (test/integration/apps-python-asyncio.test.ts): a server that
# answers the sha256 of what it read until EOF, 20 clients (non-blocking connect through the
# event loop's epoll, a half-close with write_eof). Prints what it observed, not timings.
import asyncio, hashlib, socket
async def handle(reader, writer):
    data = await reader.read(-1)
    writer.write(hashlib.sha256(data).hexdigest().encode())
    await writer.drain(); writer.close()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    results = []
    for i in range(20):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        payload = bytes([i]) * (50000 + i)
        w.write(payload); await w.drain(); w.write_eof()
        got = (await r.read()).decode()
        results.append(got == hashlib.sha256(payload).hexdigest())
        s = w.get_extra_info("socket")
        opts = (s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), s.family.name, s.type.name)
        w.close()
    print("asyncio:", sum(results), "/20 intact; socket", opts, "peer", w.get_extra_info("peername")[0])
    srv.close(); await srv.wait_closed()
asyncio.run(main())
