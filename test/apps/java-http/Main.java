// A Java program over 127.0.0.1 (test/integration/apps-java-http.test.ts), run with the JDK's
// source launcher: the JDK's HTTP server and HttpURLConnection, then NIO (a non-blocking connect
// finished through a Selector, a half-close), then a blocking Socket's options. Prints what it
// observed, not timings.
import com.sun.net.httpserver.HttpServer;
import java.io.*;
import java.net.*;
import java.nio.channels.*;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.*;

public class Main {
  public static void main(String[] args) throws Exception {
    byte[] body = "tsor-java ".repeat(50000).getBytes();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    server.createContext("/", ex -> {
      ex.getResponseHeaders().add("X-Remote", ex.getRemoteAddress().getAddress().getHostAddress());
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream os = ex.getResponseBody()) { os.write(body); }
    });
    server.start();
    int port = server.getAddress().getPort();
    String want = hex(MessageDigest.getInstance("SHA-256").digest(body));
    int ok = 0; Set<String> remotes = new TreeSet<>();
    for (int i = 0; i < 30; i++) {
      HttpURLConnection c = (HttpURLConnection) new URL("http://127.0.0.1:" + port + "/").openConnection();
      byte[] got = c.getInputStream().readAllBytes();
      if (hex(MessageDigest.getInstance("SHA-256").digest(got)).equals(want)) ok++;
      remotes.add(c.getHeaderField("X-Remote"));
      c.disconnect();
    }
    System.out.println("http: " + ok + "/30 bodies intact, remotes " + remotes);
    server.stop(0);
    // NIO: a non-blocking connect finished with a selector, then a half-close.
    ServerSocketChannel ssc = ServerSocketChannel.open();
    ssc.bind(new InetSocketAddress("127.0.0.1", 0));
    SocketChannel client = SocketChannel.open();
    client.configureBlocking(false);
    boolean now = client.connect(ssc.getLocalAddress());
    Selector sel = Selector.open();
    client.register(sel, SelectionKey.OP_CONNECT);
    if (!now) { sel.select(5000); client.finishConnect(); }
    SocketChannel srv = ssc.accept();
    sel.close();
    client.configureBlocking(true);
    client.write(ByteBuffer.wrap(new byte[70000]));
    client.shutdownOutput();
    long n = 0; ByteBuffer b = ByteBuffer.allocate(65536); int r;
    while ((r = srv.read(b)) > 0) { n += r; b.clear(); }
    srv.write(ByteBuffer.wrap(("bye after " + n).getBytes())); srv.close();
    ByteBuffer reply = ByteBuffer.allocate(64); client.read(reply);
    System.out.println("nio: connected=" + client.isConnected() + " reply=" + new String(reply.array(), 0, reply.position()));
    Socket s = new Socket(); s.setTcpNoDelay(true); s.setKeepAlive(true); s.setSoTimeout(1234);
    s.connect(ssc.getLocalAddress()); Socket a = ssc.socket().accept();
    System.out.println("options: nodelay=" + s.getTcpNoDelay() + " keepalive=" + s.getKeepAlive() + " timeout=" + s.getSoTimeout() + " peer=" + a.getInetAddress().getHostAddress());
  }
  static String hex(byte[] d) { StringBuilder sb = new StringBuilder(); for (byte x : d) sb.append(String.format("%02x", x)); return sb.toString(); }
}
