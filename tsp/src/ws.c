/* RFC 6455 WebSocket client on Winsock2 (see ws.h). Written for one peer, the ro-conformance bridge, but it
   treats every byte from the network as hostile: a bad frame closes the connection with a reason, never crashes. */
#include "ws.h"

#include <ws2tcpip.h>
#include <bcrypt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BCRYPT_SUCCESS
#define BCRYPT_SUCCESS(s) (((NTSTATUS)(s)) >= 0)
#endif

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 §1.3 */
#define WS_MAX_HTTP_RESPONSE 16384u                   /* a handshake response is a few hundred bytes */
#define WS_MAX_TOKEN 4096u
#define WS_POLL_MS 50u /* granularity at which a connect attempt notices the abort flag */
#define WS_CLOSE_SEND_MS 200u /* a close frame we send on an error is best effort: do not hang on it */
/* The largest frame we accept: header (at most 14 bytes from a server, which never masks) + payload. */
#define WS_MAX_FRAME_BYTES ((size_t)WS_MAX_MESSAGE + 14u)

struct ws_conn {
    SOCKET s;
    CRITICAL_SECTION send_lock; /* one writer at a time: rpc_call threads and the reader's pong / close */
    volatile LONG close_sent;   /* our close frame is on the wire: no more data frames (RFC 6455 §5.5.1) */
    volatile LONG broken;       /* the stream is unusable (error, partial send, shutdown) */
    int closed;                 /* reader side: a close frame arrived or the connection failed */
    unsigned char *rbuf;        /* bytes received but not yet parsed */
    size_t rlen, rcap;
    unsigned char *msg; /* fragments of the message being reassembled */
    size_t mlen;
    int in_msg;
    char closed_reason[WS_REASON_LEN];
    ULONGLONG last_rx; /* GetTickCount64 of the last bytes received (keepalive); reader thread only */
};

/* ---------------------------------------------------------------------------------------------- helpers */

static void set_reason(char *reason, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_reason(char *reason, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (!reason || n == 0) return;
    va_start(ap, fmt);
    vsnprintf(reason, n, fmt, ap);
    va_end(ap);
}

static ULONGLONG now_ms(void) { return GetTickCount64(); }

static DWORD remaining_ms(ULONGLONG deadline)
{
    ULONGLONG now = now_ms();
    return now >= deadline ? 0 : (DWORD)(deadline - now);
}

static const char *wsa_name(int e)
{
    switch (e) {
    case WSAECONNREFUSED: return "WSAECONNREFUSED (nothing listens there)";
    case WSAETIMEDOUT: return "WSAETIMEDOUT";
    case WSAECONNRESET: return "WSAECONNRESET";
    case WSAECONNABORTED: return "WSAECONNABORTED";
    case WSAEHOSTUNREACH: return "WSAEHOSTUNREACH";
    case WSAENETUNREACH: return "WSAENETUNREACH";
    case WSAENETDOWN: return "WSAENETDOWN";
    case WSAEADDRNOTAVAIL: return "WSAEADDRNOTAVAIL";
    case WSAESHUTDOWN: return "WSAESHUTDOWN";
    case WSAENOTSOCK: return "WSAENOTSOCK";
    case WSAHOST_NOT_FOUND: return "WSAHOST_NOT_FOUND";
    case WSATRY_AGAIN: return "WSATRY_AGAIN";
    case WSANO_DATA: return "WSANO_DATA";
    default: return "WSA error";
    }
}

static int ascii_lower(int ch) { return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch; }

static int ascii_ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i])) return 0;
        if (a[i] == '\0') return 1;
    }
    return 1;
}

/* Does the comma-separated header value (length n) contain token (case-insensitive)? Connection: keep-alive, Upgrade */
static int header_has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t start = i;
        while (i < n && v[i] != ',') i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
        if (end - start == tl && ascii_ieq_n(v + start, token, tl)) return 1;
    }
    return 0;
}

static void base64_encode(const unsigned char *in, size_t n, char *out /* 4*ceil(n/3)+1 */)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = tbl[(v >> 18) & 63]; out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63]; out[o++] = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        out[o++] = tbl[(v >> 18) & 63]; out[o++] = tbl[(v >> 12) & 63];
        out[o++] = (i + 1 < n) ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int random_bytes(unsigned char *buf, ULONG n)
{
    /* The system RNG, not rand(): RFC 6455 §10.3 wants unpredictable masks and keys. */
    return BCRYPT_SUCCESS(BCryptGenRandom(NULL, buf, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)) ? 0 : -1;
}

static int sha1(const unsigned char *data, ULONG n, unsigned char out[20])
{
    BCRYPT_ALG_HANDLE alg = NULL;
    BCRYPT_HASH_HANDLE h = NULL;
    int rc = -1;
    if (!BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA1_ALGORITHM, NULL, 0))) return -1;
    /* NULL hash object: BCrypt allocates it itself (Windows 7 and later). */
    if (BCRYPT_SUCCESS(BCryptCreateHash(alg, &h, NULL, 0, NULL, 0, 0))) {
        if (BCRYPT_SUCCESS(BCryptHashData(h, (PUCHAR)data, n, 0)) && BCRYPT_SUCCESS(BCryptFinishHash(h, out, 20, 0)))
            rc = 0;
        BCryptDestroyHash(h);
    }
    BCryptCloseAlgorithmProvider(alg, 0);
    return rc;
}

/* Strict UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), RFC 6455 §8.1. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* Waits until s is readable (write=0) or writable (write=1): 1 ready, 0 deadline passed, -1 socket error,
   -2 aborted. Sliced into WS_POLL_MS steps only when an abort flag is given. */
static int wait_sock(SOCKET s, int write, ULONGLONG deadline, const volatile LONG *abort)
{
    for (;;) {
        DWORD left = remaining_ms(deadline);
        if (abort && *abort) return -2;
        if (abort && left > WS_POLL_MS) left = WS_POLL_MS;
        fd_set fds, efds;
        FD_ZERO(&fds);
        FD_ZERO(&efds);
        FD_SET(s, &fds);
        FD_SET(s, &efds); /* Winsock reports a failed non-blocking connect in exceptfds, not writefds */
        struct timeval tv = {(long)(left / 1000u), (long)((left % 1000u) * 1000u)};
        int r = select(0, write ? NULL : &fds, write ? &fds : NULL, &efds, &tv);
        if (r == SOCKET_ERROR) return -1;
        if (r > 0) return FD_ISSET(s, &efds) ? -1 : 1;
        if (remaining_ms(deadline) == 0) return 0;
    }
}

/* -------------------------------------------------------------------------------------------------- URL */

int ws_parse_url(const char *url, ws_url *out, char *reason, size_t reason_len)
{
    const char *p, *host, *host_end, *port = NULL, *port_end = NULL;
    memset(out, 0, sizeof *out);
    if (!url || !*url) { set_reason(reason, reason_len, "empty bridge URL"); return -1; }
    if (ascii_ieq_n(url, "wss://", 6)) {
        set_reason(reason, reason_len, "'%.200s': wss:// (TLS) is not supported by the TSP; use ws:// on a trusted network", url);
        return -1;
    }
    if (!ascii_ieq_n(url, "ws://", 5)) {
        set_reason(reason, reason_len, "'%.200s' is not a ws://host:port/path URL", url);
        return -1;
    }
    p = url + 5;
    if (*p == '[') { /* IPv6 literal, RFC 3986 §3.2.2 */
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end) { set_reason(reason, reason_len, "'%.200s': unterminated [IPv6] host", url); return -1; }
        p = host_end + 1;
    } else {
        host = p;
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#') {
            if (*p == '@') { set_reason(reason, reason_len, "'%.200s': user info in the URL is not supported", url); return -1; }
            p++;
        }
        host_end = p;
    }
    if (host_end == host) { set_reason(reason, reason_len, "'%.200s': no host", url); return -1; }
    if ((size_t)(host_end - host) >= sizeof out->host) { set_reason(reason, reason_len, "'%.200s': host too long", url); return -1; }
    if (*p == ':') {
        port = ++p;
        while (*p >= '0' && *p <= '9') p++;
        port_end = p;
        if (port_end == port || port_end - port > 5 || atoi(port) < 1 || atoi(port) > 65535) {
            set_reason(reason, reason_len, "'%.200s': bad port (1..65535)", url);
            return -1;
        }
    }
    if (*p && *p != '/' && *p != '?') { set_reason(reason, reason_len, "'%.200s': unexpected '%c' after the host", url, *p); return -1; }
    memcpy(out->host, host, (size_t)(host_end - host));
    if (port) memcpy(out->port, port, (size_t)(port_end - port));
    else strcpy(out->port, "80");
    if (strlen(p) + 2 > sizeof out->path) { set_reason(reason, reason_len, "'%.200s': path too long", url); return -1; }
    const char *frag = strchr(p, '#'); /* a fragment is never sent to the server (RFC 6455 §3) */
    size_t plen = frag ? (size_t)(frag - p) : strlen(p);
    if (plen == 0 || p[0] == '?') {
        out->path[0] = '/';
        memcpy(out->path + 1, p, plen);
    } else {
        memcpy(out->path, p, plen);
    }
    /* The path goes into the request line verbatim: no spaces or control bytes (request smuggling). */
    for (const char *q = out->path; *q; q++) {
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q == 0x7F) {
            set_reason(reason, reason_len, "'%.200s': the path contains a space or control character", url);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------- raw socket */

/* Sends all of buf before deadline. A partial send breaks the frame stream, so the caller marks the connection
   broken on failure. */
static int send_all(ws_conn *c, const unsigned char *buf, size_t len, ULONGLONG deadline, char *reason, size_t rl)
{
    while (len > 0) {
        int chunk = len > 0x10000000u ? 0x10000000 : (int)len;
        int n = send(c->s, (const char *)buf, chunk, 0);
        if (n > 0) { buf += n; len -= (size_t)n; continue; }
        int e = WSAGetLastError();
        if (n == SOCKET_ERROR && e == WSAEWOULDBLOCK) {
            int w = wait_sock(c->s, 1, deadline, NULL);
            if (w == 1) continue;
            set_reason(reason, rl, w == 0 ? "send timed out (the bridge does not read)" : "send failed: socket error");
            return -1;
        }
        set_reason(reason, rl, "send failed: %s (%d)", wsa_name(e), e);
        return -1;
    }
    return 0;
}

/* Makes room for at least `need` bytes in rbuf (need <= WS_MAX_FRAME_BYTES or the HTTP limit). */
static int rbuf_reserve(ws_conn *c, size_t need)
{
    if (need <= c->rcap) return 0;
    size_t cap = c->rcap ? c->rcap : 4096;
    while (cap < need) cap *= 2;
    if (cap > WS_MAX_FRAME_BYTES && need <= WS_MAX_FRAME_BYTES) cap = WS_MAX_FRAME_BYTES;
    unsigned char *nb = realloc(c->rbuf, cap);
    if (!nb) return -1;
    c->rbuf = nb;
    c->rcap = cap;
    return 0;
}

/* Reads whatever is available (at least 1 byte) until deadline, so that rbuf holds up to `want` bytes.
   1 got data, 0 timeout, -1 error/EOF (reason set), -2 aborted. */
static int fill(ws_conn *c, size_t want, ULONGLONG deadline, const volatile LONG *abort, char *reason, size_t rl)
{
    if (want < c->rlen + 1) want = c->rlen + 1;
    if (want < c->rlen + 4096) want = c->rlen + 4096; /* read ahead a little: fewer recv calls */
    if (want > WS_MAX_FRAME_BYTES && c->rlen < WS_MAX_FRAME_BYTES) want = WS_MAX_FRAME_BYTES;
    if (rbuf_reserve(c, want) != 0) { set_reason(reason, rl, "out of memory for the receive buffer"); return -1; }
    for (;;) {
        int room = (int)((c->rcap - c->rlen) > 0x10000000u ? 0x10000000u : (c->rcap - c->rlen));
        int n = recv(c->s, (char *)c->rbuf + c->rlen, room, 0);
        if (n > 0) { c->rlen += (size_t)n; c->last_rx = now_ms(); return 1; }
        if (n == 0) {
            set_reason(reason, rl, "the bridge closed the TCP connection without a close frame (1006)");
            return -1;
        }
        int e = WSAGetLastError();
        if (e != WSAEWOULDBLOCK) { set_reason(reason, rl, "recv failed: %s (%d)", wsa_name(e), e); return -1; }
        int w = wait_sock(c->s, 0, deadline, abort);
        if (w == 1) continue;
        if (w == 0) return 0;
        if (w == -2) { set_reason(reason, rl, "aborted"); return -2; }
        set_reason(reason, rl, "recv failed: socket error");
        return -1;
    }
}

static void consume(ws_conn *c, size_t n)
{
    memmove(c->rbuf, c->rbuf + n, c->rlen - n);
    c->rlen -= n;
}

/* --------------------------------------------------------------------------------------------- frames */

static int send_frame(ws_conn *c, unsigned op, const unsigned char *data, size_t len, DWORD timeout_ms,
                      char *reason, size_t rl)
{
    unsigned char hdr[14], key[4];
    size_t h = 0;
    if (len > WS_MAX_MESSAGE) { set_reason(reason, rl, "message of %lu bytes exceeds the 1 MiB limit", (unsigned long)len); return WS_ERROR; }
    if (random_bytes(key, 4) != 0) { set_reason(reason, rl, "BCryptGenRandom failed (mask key)"); return WS_ERROR; }
    hdr[h++] = (unsigned char)(0x80u | op); /* FIN: we never fragment */
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80u | len);
    } else if (len <= 0xFFFFu) {
        hdr[h++] = 0x80u | 126u;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        uint64_t l = len;
        hdr[h++] = 0x80u | 127u;
        for (int i = 7; i >= 0; i--) hdr[h++] = (unsigned char)(l >> (8 * i));
    }
    memcpy(hdr + h, key, 4);
    h += 4;
    unsigned char *buf = malloc(h + len);
    if (!buf) { set_reason(reason, rl, "out of memory for a frame of %lu bytes", (unsigned long)len); return WS_ERROR; }
    memcpy(buf, hdr, h);
    for (size_t i = 0; i < len; i++) buf[h + i] = data[i] ^ key[i & 3u]; /* client masking, RFC 6455 §5.3 */
    int rc = WS_OK;
    EnterCriticalSection(&c->send_lock);
    if (c->broken) {
        set_reason(reason, rl, "connection is broken");
        rc = WS_ERROR;
    } else if (c->close_sent) {
        set_reason(reason, rl, "connection is closing");
        rc = WS_CLOSED;
    } else if (send_all(c, buf, h + len, now_ms() + timeout_ms, reason, rl) != 0) {
        InterlockedExchange(&c->broken, 1);
        shutdown(c->s, SD_BOTH); /* a half-sent frame: the reader must see the connection die too */
        rc = WS_ERROR;
    } else if (op == 0x8) {
        InterlockedExchange(&c->close_sent, 1);
    }
    LeaveCriticalSection(&c->send_lock);
    free(buf);
    return rc;
}

static void send_close(ws_conn *c, unsigned code, const char *text)
{
    unsigned char p[125];
    size_t tl = text ? strlen(text) : 0;
    if (tl > sizeof p - 2) tl = sizeof p - 2;
    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)code;
    if (tl) memcpy(p + 2, text, tl);
    /* The reason was cut at a byte boundary: keep it valid UTF-8 by dropping a partial sequence at the end. */
    while (tl > 0 && !utf8_valid(p + 2, tl)) tl--;
    char ignored[WS_REASON_LEN];
    send_frame(c, 0x8, p, 2 + tl, WS_CLOSE_SEND_MS, ignored, sizeof ignored);
}

/* A protocol violation by the server: close with `code` (RFC 6455 §7.4.1) and report. */
static int fail(ws_conn *c, unsigned code, char *reason, size_t rl, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(ws_conn *c, unsigned code, char *reason, size_t rl, const char *fmt, ...)
{
    char text[WS_REASON_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    send_close(c, code, text);
    InterlockedExchange(&c->broken, 1);
    c->closed = 1;
    snprintf(c->closed_reason, sizeof c->closed_reason, "protocol error from the bridge: %s (closed with %u)", text, code);
    set_reason(reason, rl, "%s", c->closed_reason);
    return WS_ERROR;
}

static int valid_close_code(unsigned code)
{
    /* RFC 6455 §7.4: 1004-1006 and 1015 are never sent on the wire; 1012-1014 are registered by IANA since. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

int ws_recv(ws_conn *c, char **msg, size_t *len, DWORD timeout_ms, char *reason, size_t rl)
{
    ULONGLONG deadline = now_ms() + timeout_ms;
    *msg = NULL;
    *len = 0;
    if (c->closed) { set_reason(reason, rl, "%s", c->closed_reason); return WS_CLOSED; }
    for (unsigned iter = 0;; iter++) {
        /* A server that never stops sending control frames must not keep the caller here past its deadline (the
           rpc reader checks its stop flag between calls). */
        if (iter > 0 && now_ms() >= deadline) {
            set_reason(reason, rl, "no message within %lu ms", (unsigned long)timeout_ms);
            return WS_TIMEOUT;
        }
        /* Parse one frame header from rbuf, reading more when it is incomplete. */
        size_t need = 2;
        if (c->rlen >= 2) {
            unsigned b0 = c->rbuf[0], b1 = c->rbuf[1];
            unsigned fin = b0 & 0x80u, op = b0 & 0x0Fu, len7 = b1 & 0x7Fu;
            if (b0 & 0x70u) return fail(c, 1002, reason, rl, "RSV bits set (0x%02X) but no extension was negotiated", b0 & 0x70u);
            if (!(op <= 2 || (op >= 8 && op <= 10))) return fail(c, 1002, reason, rl, "reserved opcode 0x%X", op);
            if (b1 & 0x80u) return fail(c, 1002, reason, rl, "masked frame from the server");
            size_t hl = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
            need = hl;
            if (c->rlen >= hl) {
                uint64_t plen = len7;
                if (len7 == 126) plen = ((uint64_t)c->rbuf[2] << 8) | c->rbuf[3];
                if (len7 == 127) {
                    plen = 0;
                    for (int i = 0; i < 8; i++) plen = (plen << 8) | c->rbuf[2 + i];
                    if (plen >> 63) return fail(c, 1002, reason, rl, "64-bit frame length with the top bit set");
                }
                if (op >= 8 && (!fin || plen > 125)) return fail(c, 1002, reason, rl, "control frame 0x%X fragmented or longer than 125 bytes", op);
                /* Checked before any allocation, so a forged length of 2^62 costs nothing. */
                if (plen > WS_MAX_MESSAGE || (op == 0 && c->mlen + plen > WS_MAX_MESSAGE))
                    return fail(c, 1009, reason, rl, "message larger than the 1 MiB limit");
                need = hl + (size_t)plen;
                if (c->rlen >= need) {
                    const unsigned char *pl = c->rbuf + hl;
                    size_t n = (size_t)plen;
                    if (op == 0x9) { /* ping: answer at once with the same payload (§5.5.2) */
                        char ignored[WS_REASON_LEN];
                        unsigned char copy[125];
                        memcpy(copy, pl, n);
                        consume(c, need);
                        send_frame(c, 0xA, copy, n, WS_CLOSE_SEND_MS, ignored, sizeof ignored);
                        continue;
                    }
                    if (op == 0xA) { consume(c, need); continue; } /* unsolicited pong: ignore (§5.5.3) */
                    if (op == 0x8) {
                        unsigned code = 1005;
                        char text[126] = "";
                        if (n == 1) return fail(c, 1002, reason, rl, "close frame with a 1-byte payload");
                        if (n >= 2) {
                            code = ((unsigned)pl[0] << 8) | pl[1];
                            if (!valid_close_code(code)) return fail(c, 1002, reason, rl, "invalid close code %u", code);
                            if (!utf8_valid(pl + 2, n - 2)) return fail(c, 1007, reason, rl, "close reason is not UTF-8");
                            memcpy(text, pl + 2, n - 2);
                            text[n - 2] = '\0';
                        }
                        consume(c, need);
                        if (!c->close_sent) send_close(c, code == 1005 ? 1000 : code, ""); /* echo (§5.5.1) */
                        c->closed = 1;
                        snprintf(c->closed_reason, sizeof c->closed_reason, "the bridge closed the connection (code %u%s%s)",
                                 code, text[0] ? ": " : "", text);
                        set_reason(reason, rl, "%s", c->closed_reason);
                        return WS_CLOSED;
                    }
                    /* data frame: 1 text, 2 binary (read as UTF-8 text, as the bridge does), 0 continuation */
                    if (op != 0 && c->in_msg) return fail(c, 1002, reason, rl, "new data frame inside a fragmented message");
                    if (op == 0 && !c->in_msg) return fail(c, 1002, reason, rl, "continuation frame without a message");
                    unsigned char *nm = realloc(c->msg, c->mlen + n + 1);
                    if (!nm) return fail(c, 1011, reason, rl, "out of memory for a message of %lu bytes", (unsigned long)(c->mlen + n));
                    c->msg = nm;
                    memcpy(c->msg + c->mlen, pl, n);
                    c->mlen += n;
                    c->in_msg = 1;
                    consume(c, need);
                    if (!fin) continue;
                    if (!utf8_valid(c->msg, c->mlen)) {
                        return fail(c, 1007, reason, rl, "message is not valid UTF-8");
                    }
                    c->msg[c->mlen] = '\0';
                    *msg = (char *)c->msg;
                    *len = c->mlen;
                    c->msg = NULL;
                    c->mlen = 0;
                    c->in_msg = 0;
                    return WS_OK;
                }
            }
        }
        int r = fill(c, need, deadline, NULL, reason, rl);
        if (r == 0) { set_reason(reason, rl, "no message within %lu ms", (unsigned long)timeout_ms); return WS_TIMEOUT; }
        if (r < 0) {
            c->closed = 1;
            InterlockedExchange(&c->broken, 1);
            snprintf(c->closed_reason, sizeof c->closed_reason, "%s", reason ? reason : "connection lost");
            return c->close_sent ? WS_CLOSED : WS_ERROR;
        }
    }
}

int ws_send_text(ws_conn *c, const char *data, size_t len, DWORD timeout_ms, char *reason, size_t rl)
{
    return send_frame(c, 0x1, (const unsigned char *)data, len, timeout_ms, reason, rl);
}

/* ------------------------------------------------------------------------------------- connect, handshake */

static int handshake(ws_conn *c, const ws_url *u, const char *token, ULONGLONG deadline, const volatile LONG *abort,
                     char *reason, size_t rl)
{
    unsigned char nonce[16], digest[20];
    char key[25], expect[29], accept_src[25 + sizeof WS_GUID];
    if (random_bytes(nonce, sizeof nonce) != 0) { set_reason(reason, rl, "BCryptGenRandom failed (handshake key)"); return -1; }
    base64_encode(nonce, sizeof nonce, key);
    snprintf(accept_src, sizeof accept_src, "%s%s", key, WS_GUID);
    if (sha1((const unsigned char *)accept_src, (ULONG)strlen(accept_src), digest) != 0) {
        set_reason(reason, rl, "BCrypt SHA-1 unavailable (needed for Sec-WebSocket-Accept)");
        return -1;
    }
    base64_encode(digest, sizeof digest, expect);

    int v6 = strchr(u->host, ':') != NULL;
    size_t cap = 512 + strlen(u->path) + strlen(u->host) + (token ? strlen(token) : 0);
    char *req = malloc(cap);
    if (!req) { set_reason(reason, rl, "out of memory"); return -1; }
    int n = snprintf(req, cap,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: rotsp\r\n%s%s%s\r\n",
                     u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, key,
                     token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    int rc = -1;
    if (n < 0 || (size_t)n >= cap) { set_reason(reason, rl, "handshake request too long"); free(req); return -1; }
    rc = send_all(c, (const unsigned char *)req, (size_t)n, deadline, reason, rl);
    SecureZeroMemory(req, cap); /* it held the token */
    free(req);
    if (rc != 0) return -1;

    /* Read up to the blank line; whatever follows is already frame data and stays in rbuf. */
    size_t hend = 0;
    for (;;) {
        for (size_t i = 3; i < c->rlen; i++) {
            if (c->rbuf[i - 3] == '\r' && c->rbuf[i - 2] == '\n' && c->rbuf[i - 1] == '\r' && c->rbuf[i] == '\n') { hend = i + 1; break; }
        }
        if (hend) break;
        if (c->rlen >= WS_MAX_HTTP_RESPONSE) { set_reason(reason, rl, "handshake response longer than %u bytes", WS_MAX_HTTP_RESPONSE); return -1; }
        int r = fill(c, WS_MAX_HTTP_RESPONSE, deadline, abort, reason, rl);
        if (r == 0) { set_reason(reason, rl, "no handshake response from the bridge in time"); return -1; }
        if (r < 0) {
            if (r == -1 && reason) {
                char tmp[WS_REASON_LEN];
                snprintf(tmp, sizeof tmp, "during the handshake: %s", reason);
                set_reason(reason, rl, "%s", tmp);
            }
            return -1;
        }
    }
    char *head = malloc(hend + 1);
    if (!head) { set_reason(reason, rl, "out of memory"); return -1; }
    memcpy(head, c->rbuf, hend);
    head[hend] = '\0';
    consume(c, hend);

    rc = -1;
    int status = 0;
    char *line_end = strstr(head, "\r\n");
    if (strncmp(head, "HTTP/1.1 ", 9) != 0 || !line_end || line_end - head < 12 ||
        !(head[9] >= '1' && head[9] <= '5' && head[10] >= '0' && head[10] <= '9' && head[11] >= '0' && head[11] <= '9')) {
        set_reason(reason, rl, "not an HTTP/1.1 response to the WebSocket upgrade");
        goto out;
    }
    status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    if (status != 101) {
        char text[64];
        size_t k = 0;
        for (const char *q = head + 12; q < line_end && k + 1 < sizeof text; q++) /* printable only */
            if ((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7F) text[k++] = *q;
        text[k] = '\0';
        if (status == 401)
            set_reason(reason, rl, "the bridge refused the handshake: HTTP 401%s (missing or wrong token: RO_TSP_TOKEN / registry Token)", text);
        else if (status == 503)
            set_reason(reason, rl, "the bridge refused the handshake: HTTP 503%s (too many clients: --max-clients)", text);
        else
            set_reason(reason, rl, "the bridge refused the handshake: HTTP %d%s", status, text);
        goto out;
    }
    int up = 0, conn = 0, acc = 0;
    for (char *l = line_end + 2; *l && !(l[0] == '\r' && l[1] == '\n');) {
        char *e = strstr(l, "\r\n");
        if (!e) break;
        char *colon = memchr(l, ':', (size_t)(e - l));
        if (colon) {
            size_t nl = (size_t)(colon - l);
            char *v = colon + 1;
            while (v < e && (*v == ' ' || *v == '\t')) v++;
            size_t vl = (size_t)(e - v);
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
            if (nl == 7 && ascii_ieq_n(l, "upgrade", 7)) up = vl == 9 && ascii_ieq_n(v, "websocket", 9);
            else if (nl == 10 && ascii_ieq_n(l, "connection", 10)) conn = header_has_token(v, vl, "upgrade");
            else if (nl == 20 && ascii_ieq_n(l, "sec-websocket-accept", 20)) acc = vl == 28 && memcmp(v, expect, 28) == 0;
            else if ((nl == 24 && ascii_ieq_n(l, "sec-websocket-extensions", 24)) ||
                     (nl == 22 && ascii_ieq_n(l, "sec-websocket-protocol", 22))) {
                /* We offered neither: a server that picks one anyway breaks RFC 6455 §4.1 (client must fail). */
                set_reason(reason, rl, "the bridge selected an extension or subprotocol that was not offered");
                goto out;
            }
        }
        l = e + 2;
    }
    if (!up || !conn) set_reason(reason, rl, "HTTP 101 without 'Upgrade: websocket' / 'Connection: Upgrade'");
    else if (!acc) set_reason(reason, rl, "wrong or missing Sec-WebSocket-Accept (not a WebSocket server?)");
    else rc = 0;
out:
    free(head);
    return rc;
}

static ws_conn *conn_new(void)
{
    ws_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->s = INVALID_SOCKET;
    InitializeCriticalSection(&c->send_lock);
    return c;
}

void ws_free(ws_conn *c)
{
    if (!c) return;
    if (c->s != INVALID_SOCKET) closesocket(c->s);
    DeleteCriticalSection(&c->send_lock);
    free(c->rbuf);
    free(c->msg);
    free(c);
    WSACleanup(); /* balances the WSAStartup of ws_connect (reference counted by Winsock) */
}

ws_conn *ws_connect(const char *url, const char *token, DWORD timeout_ms, const volatile LONG *abort,
                    char *reason, size_t rl)
{
    ws_url u;
    WSADATA wsa;
    ULONGLONG deadline = now_ms() + timeout_ms;
    if (ws_parse_url(url, &u, reason, rl) != 0) return NULL;
    if (token && !*token) token = NULL;
    if (token) {
        /* The token goes into a header line: printable ASCII without spaces only (no header injection). */
        size_t tl = strlen(token);
        if (tl > WS_MAX_TOKEN) { set_reason(reason, rl, "the bridge token is longer than %u bytes", WS_MAX_TOKEN); return NULL; }
        for (size_t i = 0; i < tl; i++)
            if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7F) {
                set_reason(reason, rl, "the bridge token contains a space, control or non-ASCII character");
                return NULL;
            }
    }
    int e = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (e != 0) { set_reason(reason, rl, "WSAStartup failed (%d)", e); return NULL; }
    ws_conn *c = conn_new();
    if (!c) { WSACleanup(); set_reason(reason, rl, "out of memory"); return NULL; }

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    e = getaddrinfo(u.host, u.port, &hints, &res);
    if (e != 0) {
        set_reason(reason, rl, "cannot resolve '%s': %s (%d)", u.host, wsa_name(e), e);
        ws_free(c);
        return NULL;
    }
    set_reason(reason, rl, "connect to %s port %s: no address", u.host, u.port);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        SOCKET s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s == INVALID_SOCKET) continue;
        u_long nb = 1;
        BOOL nodelay = TRUE; /* small request/response messages: no Nagle delay */
        ioctlsocket(s, FIONBIO, &nb); /* non-blocking for good: every wait below goes through select */
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&nodelay, sizeof nodelay);
        int r = connect(s, ai->ai_addr, (int)ai->ai_addrlen);
        if (r == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) {
            int w = wait_sock(s, 1, deadline, abort);
            if (w == 1) r = 0;
            else if (w == 0) { set_reason(reason, rl, "connect to %s port %s timed out after %lu ms", u.host, u.port, (unsigned long)timeout_ms); }
            else if (w == -2) { set_reason(reason, rl, "connect aborted (client stopping)"); }
            else {
                int err = 0, el = sizeof err;
                getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&err, &el);
                set_reason(reason, rl, "connect to %s port %s failed: %s (%d)", u.host, u.port, wsa_name(err), err);
            }
            if (w != 1) {
                closesocket(s);
                if (w == 0 || w == -2) break; /* out of time: no point in the next address */
                continue;
            }
        } else if (r == SOCKET_ERROR) {
            int err = WSAGetLastError();
            set_reason(reason, rl, "connect to %s port %s failed: %s (%d)", u.host, u.port, wsa_name(err), err);
            closesocket(s);
            continue;
        }
        c->s = s;
        break;
    }
    freeaddrinfo(res);
    if (c->s == INVALID_SOCKET) { ws_free(c); return NULL; }
    if (handshake(c, &u, token, deadline, abort, reason, rl) != 0) {
        ws_free(c);
        return NULL;
    }
    c->last_rx = now_ms();
    return c;
}

void ws_fail(ws_conn *c, unsigned code, const char *text)
{
    if (!c) return;
    send_close(c, code, text);
    ws_shutdown(c);
}

int ws_ping(ws_conn *c)
{
    char ignored[WS_REASON_LEN];
    return send_frame(c, 0x9, (const unsigned char *)"rotsp", 5, WS_CLOSE_SEND_MS, ignored, sizeof ignored);
}

ULONGLONG ws_last_rx(ws_conn *c) { return c->last_rx; }

void ws_shutdown(ws_conn *c)
{
    if (!c) return;
    InterlockedExchange(&c->broken, 1);
    shutdown(c->s, SD_BOTH);
}

void ws_close(ws_conn *c, DWORD timeout_ms)
{
    if (!c) return;
    ULONGLONG deadline = now_ms() + timeout_ms;
    if (!c->closed && !c->broken) {
        send_close(c, 1000, "client stopping");
        /* Drain until the peer's close frame (or the deadline): the server closes TCP first (§7.1.1). */
        for (;;) {
            char *m = NULL, why[WS_REASON_LEN];
            size_t n = 0;
            DWORD left = remaining_ms(deadline);
            if (left == 0) break;
            int r = ws_recv(c, &m, &n, left, why, sizeof why);
            free(m);
            if (r != WS_OK) break;
        }
    }
    ws_free(c);
}
