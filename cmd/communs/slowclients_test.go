package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
)

// rawRequest opens a connection and sends the given bytes, then nothing.
func rawRequest(t *testing.T, addr, data string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reads c until the node closes it; an error if the node
// still holds it open after d.
func closedWithin(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("still open after %v", d)
	}
	return nil
}

// TestSlowClientsAreCut, against a real `communs serve` with short limits:
// clients that send headers then trickle or stop their body are cut after
// --read-timeout, the node keeps answering a normal request meanwhile
// although they outnumber --max-connections, an upload that keeps moving
// completes however long it takes while one that stops is cut after
// --upload-idle-timeout, and idle keep-alive connections give their slot
// to a new client. Before, a slow body was held forever: 250 of them used
// up the node's file descriptors and /healthz stopped answering.
func TestSlowClientsAreCut(t *testing.T) {
	data := t.TempDir()
	env := []string{"COMMUNS_DATA=" + data}
	token := newEditor(t, env)
	addr := testenv.FreeAddr(t)
	_, logs := startServe(t, env, "--listen", addr, "--read-timeout", "1s", "--upload-idle-timeout", "1s", "--max-connections", "4")
	base := "http://" + addr
	waitHTTP(t, base+"/healthz", logs)

	t.Run("slow bodies", func(t *testing.T) {
		// Three times the connection limit: headers, a few bytes, then silence.
		var conns []net.Conn
		for i := range 12 {
			path := []string{"/connexion", "/inbox", "/api/v1/resources"}[i%3]
			conns = append(conns, rawRequest(t, addr, "POST "+path+" HTTP/1.1\r\nHost: "+addr+
				"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nname=ab"))
		}
		start := time.Now()
		client := &http.Client{Timeout: 20 * time.Second}
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			t.Fatalf("/healthz while 12 slow clients hold the node: %v", err)
		}
		resp.Body.Close()
		t.Logf("/healthz answered %d after %v with 12 slow-body clients and 4 connections", resp.StatusCode, time.Since(start).Round(time.Millisecond))
		// The admin socket answers the probe too, outside the limit.
		sock := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(data, "communs.sock"))
		}}}
		if resp, err := sock.Get("http://admin/healthz"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("/healthz on the admin socket: %v %v", resp, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(conns))
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = closedWithin(c, 15*time.Second)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("slow client %d: %v", i, err)
			}
		}
		t.Logf("12 slow-body clients cut within %v", time.Since(start).Round(time.Millisecond))
		if resp, err := client.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("/healthz after the slow clients were cut: %v", err)
		}
	})

	req, _ := http.NewRequest("POST", base+"/api/v1/resources", strings.NewReader(`{"id":"kit","title":"Kit","kind":"workshop-kit","license":"CC-BY-4.0"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create kit: %v %v", resp, err)
	}

	t.Run("upload that keeps moving", func(t *testing.T) {
		// Three times --read-timeout in all, never a second without a byte.
		pw, status := slowUpload(t, base+"/api/v1/resources/kit/files/lent.pdf", token)
		start := time.Now()
		pw.Write([]byte("%PDF-1.7\n"))
		for time.Since(start) < 3*time.Second {
			time.Sleep(200 * time.Millisecond)
			if _, err := pw.Write([]byte(strings.Repeat("x", 1000))); err != nil {
				t.Fatalf("upload cut after %v: %v", time.Since(start), err)
			}
		}
		pw.Close()
		if s := <-status; s != http.StatusCreated {
			t.Fatalf("slow but moving upload over %v: status %d, want 201\n%s", time.Since(start), s, logs)
		}
	})

	t.Run("upload that stops", func(t *testing.T) {
		c := rawRequest(t, addr, "PUT /api/v1/resources/kit/files/arrete.pdf HTTP/1.1\r\nHost: "+addr+
			"\r\nAuthorization: Bearer "+token+"\r\nContent-Type: application/pdf\r\nContent-Length: 1000000\r\n\r\n%PDF-1.7\n")
		start := time.Now()
		if err := closedWithin(c, 15*time.Second); err != nil {
			t.Fatalf("stalled upload: %v", err)
		}
		t.Logf("stalled upload cut after %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("idle keep-alives give way", func(t *testing.T) {
		// Fill every slot with idle keep-alive connections (IdleTimeout is
		// two minutes); a new client must still be served at once.
		start := time.Now()
		for i := range 4 {
			c := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("keep-alive client %d (earlier clients' idle connections hold slots too): %v", i, err)
			}
			resp.Body.Close()
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/healthz")
		if err != nil {
			t.Fatalf("new client with every slot held by idle keep-alives: %v", err)
		}
		resp.Body.Close()
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("new client waited %v behind idle keep-alives", d)
		}
	})
	if os.Getenv("COMMUNS_TEST_LOG") != "" {
		t.Log(logs)
	}
}
