// An HTTP server and client in one process over 127.0.0.1 (test/integration/apps-go-http.test.ts),
// as Go's net package drives sockets without libc: non-blocking fds registered with epoll (edge
// triggered) before connect, accept4, TCP_NODELAY and keep-alive options on every connection.
// Prints what it observed, not timings; the last line names the kernel protocol of a connected
// socket (fgetxattr system.sockprotoname): TCP natively, UNIX under tsor (a socketpair end).
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"unsafe"
)

func main() {
	body := strings.Repeat("tsor-go ", 64*1024) // 512 KiB
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		remote, _, _ := net.SplitHostPort(r.RemoteAddr)
		w.Header().Set("X-Remote", remote)
		io.WriteString(w, body)
	})
	go http.Serve(ln, mux)
	url := "http://" + ln.Addr().String() + "/"
	want := fmt.Sprintf("%x", sha256.Sum256([]byte(body)))
	for _, keepAlive := range []bool{true, false} {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: !keepAlive}}
		ok, remotes := 0, map[string]bool{}
		for i := 0; i < 50; i++ {
			resp, err := client.Get(url)
			if err != nil {
				fmt.Println("get:", err)
				os.Exit(1)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && fmt.Sprintf("%x", sha256.Sum256(got)) == want {
				ok++
			}
			remotes[resp.Header.Get("X-Remote")] = true
		}
		fmt.Printf("keep-alive %v: %d/50 bodies intact, remote addresses %v\n", keepAlive, ok, keys(remotes))
	}
	// A raw TCP exchange with a half-close: the server echoes until EOF, then answers "bye".
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "bye after %d bytes", n)
		c.Close()
	}()
	c, err := net.Dial("tcp", echo.Addr().String())
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	c.Write([]byte(strings.Repeat("x", 100000)))
	c.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(c)
	fmt.Printf("half-close: %q; local %s is tcp: %v\n", reply, c.LocalAddr().Network(), strings.HasPrefix(c.LocalAddr().String(), "127.0.0.1:"))
	fmt.Printf("transport: %s\n", protocolName(c.(*net.TCPConn)))
}

// The kernel's protocol name for the socket behind c (net/socket.c sockfs_getxattr).
func protocolName(c *net.TCPConn) string {
	raw, err := c.SyscallConn()
	if err != nil {
		return "unknown: " + err.Error()
	}
	name := "unknown"
	raw.Control(func(fd uintptr) {
		key, _ := syscall.BytePtrFromString("system.sockprotoname")
		buf := make([]byte, 64)
		n, _, errno := syscall.Syscall6(syscall.SYS_FGETXATTR, fd, uintptr(unsafe.Pointer(key)),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		if errno == 0 {
			name = strings.TrimRight(string(buf[:n]), "\x00")
		}
	})
	return name
}

func keys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}
