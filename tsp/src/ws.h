/* Minimal RFC 6455 WebSocket client over Winsock2 for the TSP's bridge connection (tsp/CONTRACT.md).
   ws:// only (no TLS), text messages only, client frames masked, fragments reassembled, ping answered by pong,
   close handshake, messages up to WS_MAX_MESSAGE bytes. Every wait is bounded by the caller's timeout.
   Threading: ws_send_text / ws_shutdown may be called from any thread while ONE other thread runs ws_recv. */
#ifndef ROTSP_WS_H
#define ROTSP_WS_H

#include <winsock2.h>
#include <windows.h>
#include <stddef.h>

#define WS_MAX_MESSAGE (1024u * 1024u) /* same default as the bridge's --max-frame */
#define WS_REASON_LEN 256

typedef struct ws_conn ws_conn;

enum { WS_OK = 0, WS_TIMEOUT = 1, WS_CLOSED = 2 /* close handshake done or peer gone */, WS_ERROR = 3 };

/* Parsed ws:// URL. host is without brackets for an IPv6 literal. */
typedef struct {
    char host[256];
    char port[8];
    char path[1024]; /* path and query, "/" when empty */
} ws_url;

/* Parses ws://host[:port][/path]; 0 on success, else -1 and a reason. */
int ws_parse_url(const char *url, ws_url *out, char *reason, size_t reason_len);

/* Connects and performs the opening handshake within timeout_ms (name resolution excepted: getaddrinfo has no
   timeout on Windows 7). token NULL or "" = no Authorization header. abort (may be NULL) is polled every 50 ms so
   that a stopping client does not wait out the whole timeout. NULL on failure with a reason ("HTTP 401 ..."). */
ws_conn *ws_connect(const char *url, const char *token, DWORD timeout_ms, const volatile LONG *abort,
                    char *reason, size_t reason_len);

/* Sends one text message (masked, one frame). Serialised by an internal lock. WS_OK or WS_ERROR/WS_CLOSED. */
int ws_send_text(ws_conn *c, const char *data, size_t len, DWORD timeout_ms, char *reason, size_t reason_len);

/* Receives the next complete text message into *msg (malloc'd, NUL-terminated, caller frees) and *len.
   Pings are answered and pongs skipped internally. WS_TIMEOUT keeps partial data for the next call.
   On a protocol violation the connection is closed with the matching close code and WS_ERROR + reason. */
int ws_recv(ws_conn *c, char **msg, size_t *len, DWORD timeout_ms, char *reason, size_t reason_len);

/* Sends a ping (the pong, like any received byte, moves ws_last_rx). WS_OK or an error. Any thread. */
int ws_ping(ws_conn *c);

/* GetTickCount64() of the last bytes received (or of the handshake). The ws_recv thread only. */
ULONGLONG ws_last_rx(ws_conn *c);

/* The application above found the peer's messages unusable: best-effort close frame with code, then ws_shutdown. */
void ws_fail(ws_conn *c, unsigned code, const char *text);

/* Makes a blocked ws_recv / ws_send_text return soon (shutdown of the socket); safe from any thread. */
void ws_shutdown(ws_conn *c);

/* Close handshake initiated by us (code 1000), waiting at most timeout_ms for the peer's close, then frees. */
void ws_close(ws_conn *c, DWORD timeout_ms);

/* Frees without a handshake (after WS_CLOSED / WS_ERROR, or when the peer is gone). NULL is fine. */
void ws_free(ws_conn *c);

#endif /* ROTSP_WS_H */
