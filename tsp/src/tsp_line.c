/* TSPI_* entry points of the ro-conformance TSP: each forwards to the bridge (docs/bridge.md) and maps the
   answer back to TSPI's rules (docs/tapi.md §3, §6; Microsoft's TSPI reference:
   https://learn.microsoft.com/en-us/windows/win32/api/tspi/). Network bound of every entry point: at most the
   number of bridge round trips named in its comment, each at most 2 s (rpc call timeout). */
#include "tsp_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Fixed parts per negotiated version (docs/tapi.md §6.2; conformance/backends/tapi32/_structs.FIXED_SIZES). */
_Static_assert(offsetof(LINEDEVCAPS, PermanentLineGuid) == 252, "LINEDEVCAPS 2.0/2.1 fixed part");
_Static_assert(offsetof(LINEDEVCAPS, dwAddressTypes) == 268, "LINEDEVCAPS 2.2 fixed part");
_Static_assert(sizeof(LINEDEVCAPS) == 292, "LINEDEVCAPS 3.0 fixed part");
_Static_assert(sizeof(LINEADDRESSCAPS) == 228, "LINEADDRESSCAPS 2.0+ fixed part");
_Static_assert(offsetof(LINECALLINFO, dwCallerIDAddressType) == 324, "LINECALLINFO 2.x fixed part");
_Static_assert(sizeof(LINECALLINFO) == 344, "LINECALLINFO 3.0 fixed part");
_Static_assert(sizeof(LINECALLSTATUS) == 56, "LINECALLSTATUS 2.0+ fixed part");
_Static_assert(sizeof(LINEADDRESSSTATUS) == 64, "LINEADDRESSSTATUS");
_Static_assert(sizeof(VARSTRING) == 24, "VARSTRING");
_Static_assert(offsetof(LINECALLPARAMS, dwPredictiveAutoTransferStates) == 112, "LINECALLPARAMS 1.x");
_Static_assert(offsetof(LINECALLPARAMS, dwAddressType) == 176, "LINECALLPARAMS 2.x");

static DWORD fixed_devcaps(DWORD v) { return v >= 0x00030000 ? 292 : v >= 0x00020002 ? 268 : 252; }

/* The checks both caps functions make before asking the bridge: a device we enumerated, a version we
   negotiate (TSPI_lineGetDevCaps / TSPI_lineGetAddressCaps). *idx is the bridge's device index. */
static LONG caps_device(DWORD dwDeviceID, DWORD dwTSPIVersion, DWORD *idx)
{
    tsp_lock();
    int ok = tsp_dev_index(dwDeviceID, idx);
    tsp_unlock();
    if (!ok) return LINEERR_BADDEVICEID;
    if (dwTSPIVersion < TSP_VERSION_LOW || dwTSPIVersion > TSP_VERSION_HIGH) return LINEERR_INCOMPATIBLEAPIVERSION;
    return 0;
}
static DWORD fixed_callinfo(DWORD v) { return v >= 0x00030000 ? 344 : 324; }
#define FWD_ENTRY 24u /* LINEFORWARD up to 3.0 (docs/tapi.md §6.3) */

static DWORD bridge_api(DWORD v) { return v > TSP_BRIDGE_API || v == 0 ? TSP_BRIDGE_API : v; }

static cJSON *obj_app(void)
{
    cJSON *p = cJSON_CreateObject();
    tsp_lock();
    cJSON_AddNumberToObject(p, "h_line_app", g.app);
    tsp_unlock();
    return p;
}

/* Resolves hdLine to the bridge hLine (0 = invalid handle, *err set). */
static DWORD line_bridge(HDRVLINE hd, LONG *err, DWORD *version, DWORD *dev)
{
    DWORD h = 0;
    tsp_lock();
    tsp_line *l = tsp_line_valid(hd);
    if (!l) *err = LINEERR_INVALLINEHANDLE;
    else if (!l->bridge_hline) *err = LINEERR_RESOURCEUNAVAIL; /* closed by the provider (bridge gone) */
    else { h = l->bridge_hline; if (version) *version = l->version; if (dev) *dev = l->dev; }
    tsp_unlock();
    return h;
}
/* Resolves hdCall to the bridge hCall (0 = unusable, *err set); also its line, version and TAPI device id, read
   under the lock so a concurrent TSPI_lineCloseCall cannot pull the struct away between the two. */
typedef struct { tsp_call *c; tsp_line *l; DWORD version, tapi_id, address_id; } callref;
static DWORD call_bridge(HDRVCALL hd, LONG *err, callref *out)
{
    DWORD h = 0;
    tsp_lock();
    tsp_call *c = tsp_call_valid(hd);
    if (!c) *err = LINEERR_INVALCALLHANDLE;
    else if (!c->bridge_hcall) *err = LINEERR_INVALCALLSTATE; /* request still pending / failed / bridge gone */
    else if (!c->line) *err = LINEERR_INVALCALLHANDLE;        /* its line was closed */
    else {
        h = c->bridge_hcall;
        if (out) {
            out->c = c; out->l = c->line; out->version = c->line->version;
            out->tapi_id = g.devs[c->line->dev].tapi_id; out->address_id = c->address_id;
        }
    }
    tsp_unlock();
    return h;
}

/* ---------- provider ---------- */

/* Bound: connect (2 s) + line_initialize_ex + line_subscribe (2 s each) = 6 s when the bridge hangs. */
LONG TSPIAPI TSPI_providerEnumDevices(DWORD dwPermanentProviderID, LPDWORD lpdwNumLines, LPDWORD lpdwNumPhones,
                                      HPROVIDER hProvider, LINEEVENT lpfnLineCreateProc,
                                      PHONEEVENT lpfnPhoneCreateProc)
{
    (void)lpfnPhoneCreateProc;
    tsp_global_init();
    tsp_lock();
    g.provider_id = dwPermanentProviderID;
    g.hProvider = hProvider;
    g.create_proc = lpfnLineCreateProc;
    tsp_unlock();
    if (!tsp_bridge_start()) tsp_log("bridge %s not reachable (or it refused the application) at start: 0 lines, LINE_CREATE once it is up", g.url);
    tsp_lock();
    g.enumerated = 1;
    g.num_enum = g.ndevs;
    if (lpdwNumLines) *lpdwNumLines = g.ndevs;
    if (lpdwNumPhones) *lpdwNumPhones = 0;
    tsp_unlock();
    return 0;
}

LONG TSPIAPI TSPI_providerInit(DWORD dwTSPIVersion, DWORD dwPermanentProviderID, DWORD dwLineDeviceIDBase,
                               DWORD dwPhoneDeviceIDBase, DWORD_PTR dwNumLines, DWORD_PTR dwNumPhones,
                               ASYNC_COMPLETION lpfnCompletionProc, LPDWORD lpdwTSPIOptions)
{
    (void)dwTSPIVersion; (void)dwPhoneDeviceIDBase; (void)dwNumPhones;
    tsp_global_init();
    if (!g.rpc) tsp_bridge_start(); /* providerEnumDevices was not called (a 1.x-style host) */
    tsp_lock();
    g.provider_id = dwPermanentProviderID;
    g.line_base = dwLineDeviceIDBase;
    g.completion = lpfnCompletionProc;
    if (!g.enumerated) { g.enumerated = 1; g.num_enum = g.ndevs; }
    if (dwNumLines < g.num_enum) g.num_enum = (DWORD)dwNumLines;
    for (DWORD i = 0; i < g.num_enum; i++) { g.devs[i].tapi_id = dwLineDeviceIDBase + i; g.devs[i].has_tapi_id = 1; }
    g.inited = 1;
    tsp_unlock();
    /* Re-entrant: we lock our own state; TAPI may call us from several threads. */
    if (lpdwTSPIOptions) *lpdwTSPIOptions = 0;
    tsp_cb_start();
    return 0;
}

LONG TSPIAPI TSPI_providerShutdown(DWORD dwTSPIVersion, DWORD dwPermanentProviderID)
{
    (void)dwTSPIVersion; (void)dwPermanentProviderID;
    tsp_global_init();
    /* The callback thread first (what is queued is delivered; its bridge housekeeping still has a bridge), then
       the bridge: lines and calls are gone with its application. Nothing queued meanwhile is delivered. */
    tsp_cb_stop();
    tsp_bridge_stop();
    tsp_lock();
    tsp_cb_clear();
    while (g.nlines) tsp_line_free(g.lines[0]);
    while (g.ncalls) tsp_call_free(g.calls[0]);
    while (g.pend) { tsp_pend *p = g.pend; g.pend = p->next; free(p); }
    while (g.deferred) { tsp_deferred *d = g.deferred; g.deferred = d->next; cJSON_Delete(d->msg); free(d); }
    g.deferred_tail = &g.deferred;
    g.inited = g.enumerated = 0;
    g.ndevs = g.num_enum = 0;
    g.completion = NULL; g.create_proc = NULL;
    tsp_unlock();
    return 0;
}

LONG TSPIAPI TSPI_providerCreateLineDevice(DWORD_PTR dwTempID, DWORD dwDeviceID)
{
    tsp_global_init();
    tsp_lock();
    LONG rc = 0;
    if (dwTempID >= g.ndevs) rc = LINEERR_BADDEVICEID;
    else { g.devs[dwTempID].tapi_id = dwDeviceID; g.devs[dwTempID].has_tapi_id = 1; }
    tsp_unlock();
    return rc;
}

LONG TSPIAPI TSPI_lineNegotiateTSPIVersion(DWORD dwDeviceID, DWORD dwLowVersion, DWORD dwHighVersion,
                                           LPDWORD lpdwTSPIVersion)
{
    tsp_global_init();
    if (!lpdwTSPIVersion) return LINEERR_INVALPOINTER;
    if (dwDeviceID != INITIALIZE_NEGOTIATION) {
        DWORD idx;
        tsp_lock();
        int ok = tsp_dev_index(dwDeviceID, &idx);
        tsp_unlock();
        if (!ok) return LINEERR_BADDEVICEID;
    }
    /* The highest version both sides speak (Microsoft: TSPI_lineNegotiateTSPIVersion,
       https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tspi_linenegotiatetspiversion). */
    if (dwHighVersion < TSP_VERSION_LOW || dwLowVersion > TSP_VERSION_HIGH || dwLowVersion > dwHighVersion)
        return LINEERR_INCOMPATIBLEAPIVERSION;
    *lpdwTSPIVersion = dwHighVersion > TSP_VERSION_HIGH ? TSP_VERSION_HIGH : dwHighVersion;
    return 0;
}

/* Bound: 1 round trip. */
LONG TSPIAPI TSPI_lineNegotiateExtVersion(DWORD dwDeviceID, DWORD dwTSPIVersion, DWORD dwLowVersion,
                                          DWORD dwHighVersion, LPDWORD lpdwExtVersion)
{
    DWORD idx;
    tsp_lock();
    int ok = tsp_dev_index(dwDeviceID, &idx);
    tsp_unlock();
    if (!ok) return LINEERR_BADDEVICEID;
    cJSON *p = obj_app(), *r = NULL;
    cJSON_AddNumberToObject(p, "device_id", idx);
    cJSON_AddNumberToObject(p, "api_version", bridge_api(dwTSPIVersion));
    cJSON_AddNumberToObject(p, "low", dwLowVersion);
    cJSON_AddNumberToObject(p, "high", dwHighVersion);
    LONG rc = tsp_call_sync("line_negotiate_ext_version", p, &r);
    if (rc == 0) {
        *lpdwExtVersion = jdw(r, NULL);
        tsp_lock();
        if (idx < g.ndevs) g.devs[idx].ext_version = *lpdwExtVersion;
        tsp_unlock();
    }
    cJSON_Delete(r);
    return rc;
}

LONG TSPIAPI TSPI_lineGetExtensionID(DWORD dwDeviceID, DWORD dwTSPIVersion, LPLINEEXTENSIONID lpExtensionID)
{
    (void)dwTSPIVersion;
    DWORD idx;
    tsp_lock();
    int ok = tsp_dev_index(dwDeviceID, &idx);
    tsp_unlock();
    if (!ok) return LINEERR_BADDEVICEID;
    memset(lpExtensionID, 0, sizeof *lpExtensionID); /* no extension id of our own: the bridge's is opaque */
    return 0;
}

/* ---------- capabilities ---------- */

typedef struct { const char *key; size_t off; } fmap;
#define F(s, k, f) { k, offsetof(s, f) }

static void put_fields(BYTE *base, const cJSON *o, const fmap *m, size_t n, DWORD fixed)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].off + 4 > fixed) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, m[i].key);
        if (v) { DWORD x = jdw(v, NULL); memcpy(base + m[i].off, &x, 4); }
    }
}

static const char *const k_classes[] = { "tapi/line" };

/* Bound: 1 round trip. */
LONG TSPIAPI TSPI_lineGetDevCaps(DWORD dwDeviceID, DWORD dwTSPIVersion, DWORD dwExtVersion,
                                 LPLINEDEVCAPS lpLineDevCaps)
{
    static const fmap m[] = {
        F(LINEDEVCAPS, "permanent_line_id", dwPermanentLineID), F(LINEDEVCAPS, "address_modes", dwAddressModes),
        F(LINEDEVCAPS, "num_addresses", dwNumAddresses), F(LINEDEVCAPS, "bearer_modes", dwBearerModes),
        F(LINEDEVCAPS, "max_rate", dwMaxRate), F(LINEDEVCAPS, "media_modes", dwMediaModes),
        F(LINEDEVCAPS, "dev_cap_flags", dwDevCapFlags), F(LINEDEVCAPS, "max_num_active_calls", dwMaxNumActiveCalls),
        F(LINEDEVCAPS, "answer_mode", dwAnswerMode), F(LINEDEVCAPS, "ring_modes", dwRingModes),
        F(LINEDEVCAPS, "line_states", dwLineStates), F(LINEDEVCAPS, "line_features", dwLineFeatures),
        F(LINEDEVCAPS, "settable_dev_status", dwSettableDevStatus),
    };
    DWORD idx;
    if (!lpLineDevCaps) return LINEERR_INVALPOINTER;
    LONG bad = caps_device(dwDeviceID, dwTSPIVersion, &idx);
    if (bad) return bad;
    DWORD fixed = fixed_devcaps(dwTSPIVersion);
    /* TAPISRV checks dwTotalSize against the fixed part; we check again rather than write past the buffer. */
    if (lpLineDevCaps->dwTotalSize < fixed) return LINEERR_STRUCTURETOOSMALL;
    cJSON *p = obj_app(), *r = NULL;
    cJSON_AddNumberToObject(p, "device_id", idx);
    cJSON_AddNumberToObject(p, "api_version", bridge_api(dwTSPIVersion));
    cJSON_AddNumberToObject(p, "ext_version", dwExtVersion);
    LONG rc = tsp_call_sync("line_get_dev_caps", p, &r);
    if (rc) return rc;
    vfill v;
    vf_begin(&v, lpLineDevCaps, fixed);
    put_fields(v.base, r, m, sizeof m / sizeof m[0], fixed);
    /* TSPI strings are always UTF-16 (TAPISRV converts for ANSI applications). */
    lpLineDevCaps->dwStringFormat = STRINGFORMAT_UNICODE;
    /* lineCloseCall drops an active call we own (see TSPI_lineCloseCall). */
    lpLineDevCaps->dwDevCapFlags |= LINEDEVCAPFLAGS_CLOSEDROP;
    if (dwTSPIVersion >= 0x00030000) lpLineDevCaps->dwAddressTypes = LINEADDRESSTYPE_PHONENUMBER;
    vf_wstr(&v, &lpLineDevCaps->dwProviderInfoSize, &lpLineDevCaps->dwProviderInfoOffset,
            *jstr(r, "provider_info") ? jstr(r, "provider_info") : "ro-conformance bridge TSP");
    vf_wstr(&v, &lpLineDevCaps->dwSwitchInfoSize, &lpLineDevCaps->dwSwitchInfoOffset, jstr(r, "switch_info"));
    vf_wstr(&v, &lpLineDevCaps->dwLineNameSize, &lpLineDevCaps->dwLineNameOffset, jstr(r, "line_name"));
    vf_b64(&v, &lpLineDevCaps->dwDevSpecificSize, &lpLineDevCaps->dwDevSpecificOffset, jstr(r, "dev_specific"));
    vf_wmulti(&v, &lpLineDevCaps->dwDeviceClassesSize, &lpLineDevCaps->dwDeviceClassesOffset, k_classes, 1);
    vf_end(&v);
    cJSON_Delete(r);
    return 0;
}

/* Bound: 1 round trip. */
LONG TSPIAPI TSPI_lineGetAddressCaps(DWORD dwDeviceID, DWORD dwAddressID, DWORD dwTSPIVersion,
                                     DWORD dwExtVersion, LPLINEADDRESSCAPS lpAddressCaps)
{
#define A(k, f) F(LINEADDRESSCAPS, k, f)
    static const fmap m[] = {
        A("address_sharing", dwAddressSharing), A("address_states", dwAddressStates),
        A("call_info_states", dwCallInfoStates), A("caller_id_flags", dwCallerIDFlags),
        A("called_id_flags", dwCalledIDFlags), A("connected_id_flags", dwConnectedIDFlags),
        A("redirection_id_flags", dwRedirectionIDFlags), A("redirecting_id_flags", dwRedirectingIDFlags),
        A("call_states", dwCallStates), A("dial_tone_modes", dwDialToneModes), A("busy_modes", dwBusyModes),
        A("special_info", dwSpecialInfo), A("disconnect_modes", dwDisconnectModes),
        A("max_num_active_calls", dwMaxNumActiveCalls), A("max_num_on_hold_calls", dwMaxNumOnHoldCalls),
        A("max_num_on_hold_pending_calls", dwMaxNumOnHoldPendingCalls), A("max_num_conference", dwMaxNumConference),
        A("max_num_trans_conf", dwMaxNumTransConf), A("addr_cap_flags", dwAddrCapFlags),
        A("call_features", dwCallFeatures), A("transfer_modes", dwTransferModes), A("forward_modes", dwForwardModes),
        A("max_forward_entries", dwMaxForwardEntries), A("max_specific_entries", dwMaxSpecificEntries),
        A("min_fwd_num_rings", dwMinFwdNumRings), A("max_fwd_num_rings", dwMaxFwdNumRings),
        A("address_features", dwAddressFeatures), A("call_features2", dwCallFeatures2),
        A("connected_modes", dwConnectedModes), A("offering_modes", dwOfferingModes),
        A("available_media_modes", dwAvailableMediaModes),
    };
#undef A
    DWORD idx;
    if (!lpAddressCaps) return LINEERR_INVALPOINTER;
    LONG bad = caps_device(dwDeviceID, dwTSPIVersion, &idx);
    if (bad) return bad;
    DWORD fixed = sizeof(LINEADDRESSCAPS);
    if (lpAddressCaps->dwTotalSize < fixed) return LINEERR_STRUCTURETOOSMALL;
    cJSON *p = obj_app(), *r = NULL;
    cJSON_AddNumberToObject(p, "device_id", idx);
    cJSON_AddNumberToObject(p, "address_id", dwAddressID);
    cJSON_AddNumberToObject(p, "api_version", bridge_api(dwTSPIVersion));
    cJSON_AddNumberToObject(p, "ext_version", dwExtVersion);
    LONG rc = tsp_call_sync("line_get_address_caps", p, &r);
    if (rc) return rc;
    vfill v;
    vf_begin(&v, lpAddressCaps, fixed);
    put_fields(v.base, r, m, sizeof m / sizeof m[0], fixed);
    lpAddressCaps->dwLineDeviceID = dwDeviceID; /* TAPI's id, not the bridge's */
    vf_wstr(&v, &lpAddressCaps->dwAddressSize, &lpAddressCaps->dwAddressOffset, jstr(r, "address"));
    vf_b64(&v, &lpAddressCaps->dwDevSpecificSize, &lpAddressCaps->dwDevSpecificOffset, jstr(r, "dev_specific"));
    vf_wmulti(&v, &lpAddressCaps->dwDeviceClassesSize, &lpAddressCaps->dwDeviceClassesOffset, k_classes, 1);
    vf_end(&v);
    cJSON_Delete(r);
    return 0;
}

/* ---------- open / close ---------- */

/* Bound: 2 round trips (line_open, line_get_dev_caps). */
LONG TSPIAPI TSPI_lineOpen(DWORD dwDeviceID, HTAPILINE htLine, LPHDRVLINE lphdLine, DWORD dwTSPIVersion,
                           LINEEVENT lpfnEventProc)
{
    DWORD idx;
    if (!lphdLine) return LINEERR_INVALPOINTER;
    tsp_lock();
    if (!tsp_dev_index(dwDeviceID, &idx)) { tsp_unlock(); return LINEERR_BADDEVICEID; }
    if (!g.app_valid) { tsp_unlock(); return LINEERR_RESOURCEUNAVAIL; }
    tsp_line *l = tsp_line_new();
    if (!l) { tsp_unlock(); return LINEERR_NOMEM; }
    l->dev = idx; l->htLine = htLine; l->proc = lpfnEventProc; l->version = dwTSPIVersion;
    l->num_addresses = 1;
    DWORD seq = l->seq, ext = g.devs[idx].ext_version;
    l->ext_version = ext;
    g.inflight++; /* park pushed messages until bridge_hline is known */
    tsp_unlock();

    cJSON *p = obj_app(), *r = NULL;
    cJSON_AddNumberToObject(p, "device_id", idx);
    cJSON_AddNumberToObject(p, "api_version", bridge_api(dwTSPIVersion));
    cJSON_AddNumberToObject(p, "ext_version", ext); /* TSPI_lineOpen has none: the device's last negotiated one */
    cJSON_AddNumberToObject(p, "callback_instance", seq);
    /* OWNER|MONITOR: TAPISRV multiplexes the one TSPI line among its applications and needs to see every call. */
    cJSON_AddNumberToObject(p, "privileges", LINECALLPRIVILEGE_OWNER | LINECALLPRIVILEGE_MONITOR);
    cJSON_AddNumberToObject(p, "media_modes", LINEMEDIAMODE_INTERACTIVEVOICE);
    LONG rc = tsp_call_sync("line_open", p, &r);
    DWORD h = rc == 0 ? jdw(r, NULL) : 0;
    cJSON_Delete(r);
    if (rc == 0 && !h) rc = LINEERR_OPERATIONFAILED;

    tsp_lock();
    if (rc == 0) { l->bridge_hline = h; *lphdLine = (HDRVLINE)l; }
    else tsp_line_free(l);
    g.inflight--;
    tsp_unlock();
    tsp_drain(); /* what was parked while line_open was on the wire */
    /* The number of addresses (TSPI_lineGetNumAddressIDs) from the device's caps: a second round trip. */
    if (rc == 0) {
        cJSON *q = obj_app(), *caps = NULL;
        cJSON_AddNumberToObject(q, "device_id", idx);
        cJSON_AddNumberToObject(q, "api_version", bridge_api(dwTSPIVersion));
        if (tsp_call_sync("line_get_dev_caps", q, &caps) == 0) {
            tsp_lock();
            if (tsp_line_valid((HDRVLINE)l)) {
                DWORD n = jdw(caps, "num_addresses");
                l->num_addresses = n ? n : 1;
            }
            tsp_unlock();
        }
        cJSON_Delete(caps);
    }
    return rc;
}

static void complete_list(tsp_pend *list)
{
    while (list) {
        tsp_pend *n = list->next;
        if (!list->done) tsp_complete_inline(list->tapi_req, LINEERR_OPERATIONFAILED); /* done: completed already */
        free(list);
        list = n;
    }
}

/* Bound: 1 round trip (line_close), after the cancelled requests were completed. */
LONG TSPIAPI TSPI_lineClose(HDRVLINE hdLine)
{
    EnterCriticalSection(&g.cb_lock);
    tsp_lock();
    tsp_line *l = tsp_line_valid(hdLine);
    if (!l) { tsp_unlock(); LeaveCriticalSection(&g.cb_lock); return LINEERR_INVALLINEHANDLE; }
    DWORD h = l->bridge_hline;
    tsp_pend *cancelled = NULL, **pp = &g.pend, *p;
    while ((p = *pp)) {
        if (p->line_seq == l->seq) { *pp = p->next; p->next = cancelled; cancelled = p; }
        else pp = &p->next;
    }
    /* lineClose on the bridge drops what only we own and invalidates its handles: our calls go with it. */
    for (DWORD i = 0; i < g.ncalls;) {
        if (g.calls[i]->line == l) tsp_call_free(g.calls[i]); else i++;
    }
    tsp_line_free(l);
    tsp_unlock();
    /* Pending requests are reported complete before we return (as TSPI_lineCloseCall requires for calls). */
    complete_list(cancelled);
    LeaveCriticalSection(&g.cb_lock);
    if (h) {
        cJSON *q = cJSON_CreateObject(), *r = NULL;
        cJSON_AddNumberToObject(q, "h_line", h);
        tsp_call_sync("line_close", q, &r);
        cJSON_Delete(r);
    }
    return 0;
}

/* The bridge takes the extension version at line_open only, so another one re-opens the bridge line (same callback
   instance) - allowed while the line has no calls. Bound: 2 round trips. */
LONG TSPIAPI TSPI_lineSelectExtVersion(HDRVLINE hdLine, DWORD dwExtVersion)
{
    tsp_lock();
    tsp_line *l = tsp_line_valid(hdLine);
    if (!l) { tsp_unlock(); return LINEERR_INVALLINEHANDLE; }
    if (l->ext_version == dwExtVersion) { tsp_unlock(); return 0; }
    if (!l->bridge_hline) { tsp_unlock(); return LINEERR_RESOURCEUNAVAIL; }
    for (DWORD i = 0; i < g.ncalls; i++)
        if (g.calls[i]->line == l && g.calls[i]->tapi_valid) { tsp_unlock(); return LINEERR_INVALLINESTATE; }
    DWORD old = l->bridge_hline, dev = l->dev, version = l->version, seq = l->seq;
    l->bridge_hline = 0;
    g.inflight++;
    tsp_unlock();
    cJSON *q = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(q, "h_line", old);
    tsp_call_sync("line_close", q, &r);
    cJSON_Delete(r); r = NULL;
    cJSON *p = obj_app();
    cJSON_AddNumberToObject(p, "device_id", dev);
    cJSON_AddNumberToObject(p, "api_version", bridge_api(version));
    cJSON_AddNumberToObject(p, "ext_version", dwExtVersion);
    cJSON_AddNumberToObject(p, "callback_instance", seq);
    cJSON_AddNumberToObject(p, "privileges", LINECALLPRIVILEGE_OWNER | LINECALLPRIVILEGE_MONITOR);
    cJSON_AddNumberToObject(p, "media_modes", LINEMEDIAMODE_INTERACTIVEVOICE);
    LONG rc = tsp_call_sync("line_open", p, &r);
    DWORD h = rc == 0 ? jdw(r, NULL) : 0;
    cJSON_Delete(r);
    tsp_lock();
    l = tsp_line_valid(hdLine);
    if (l && h) { l->bridge_hline = h; l->ext_version = dwExtVersion; }
    else if (l && rc == 0) rc = LINEERR_OPERATIONFAILED;
    if (rc != 0 && l) {
        /* The old bridge line is closed and no new one opened: the line is gone, as after a connection loss. */
        tsp_log("lineSelectExtVersion 0x%08lX: re-opening the bridge line failed (0x%08lX)", dwExtVersion, (DWORD)rc);
        tsp_push_event(l, NULL, LINE_CLOSE, 0, 0, 0);
    }
    g.inflight--;
    tsp_unlock();
    tsp_drain();
    return rc;
}

/* No network: bridge housekeeping (drop / deallocate) goes through the callback thread's queue. */
LONG TSPIAPI TSPI_lineCloseCall(HDRVCALL hdCall)
{
    EnterCriticalSection(&g.cb_lock);
    tsp_lock();
    tsp_call *c = tsp_call_valid(hdCall);
    if (!c) { tsp_unlock(); LeaveCriticalSection(&g.cb_lock); return LINEERR_INVALCALLHANDLE; }
    c->tapi_valid = 0;
    tsp_pend *cancelled = NULL, **pp = &g.pend, *p;
    int creating = 0;
    while ((p = *pp)) {
        if (p->owner == c && !p->target) { *pp = p->next; p->next = cancelled; cancelled = p; continue; }
        if (p->target == c || p->owner == c) {
            /* Its LINE_REPLY still names the bridge call we must clean up: keep the entry, complete it now. */
            if (!p->done) {
                tsp_pend *copy = calloc(1, sizeof *copy);
                if (copy) { copy->tapi_req = p->tapi_req; copy->next = cancelled; cancelled = copy; }
            }
            p->done = 1; p->buf = NULL;
            if (p->target == c) creating = 1;
        }
        pp = &p->next;
    }
    if (!creating) {
        if (c->bridge_live && c->bridge_hcall) {
            if (c->state == LINECALLSTATE_IDLE) {
                c->bridge_live = 0;
                tsp_cb *it = calloc(1, sizeof *it);
                if (it) { it->kind = CB_BRIDGE_DEALLOC; it->call = c; it->call_seq = c->seq; it->hcall = c->bridge_hcall; tsp_cb_push(it); }
            } else if (!c->drop_sent) {
                c->drop_sent = 1; /* LINEDEVCAPFLAGS_CLOSEDROP: drop, then deallocate at IDLE */
                tsp_cb *it = calloc(1, sizeof *it);
                if (it) { it->kind = CB_BRIDGE_DROP; it->call = c; it->call_seq = c->seq; it->hcall = c->bridge_hcall; tsp_cb_push(it); }
            }
        } else tsp_call_free(c);
    }
    tsp_unlock();
    complete_list(cancelled);
    LeaveCriticalSection(&g.cb_lock);
    return 0;
}

LONG TSPIAPI TSPI_lineSetDefaultMediaDetection(HDRVLINE hdLine, DWORD dwMediaModes)
{
    tsp_lock();
    tsp_line *l = tsp_line_valid(hdLine);
    if (l) l->media_detect = dwMediaModes;
    tsp_unlock();
    /* Recorded only: the bridge line is opened OWNER|MONITOR for voice, and TAPISRV decides which application
       gets a call; new calls are reported whatever the detection set (the simulator's calls are all voice). */
    return l ? 0 : LINEERR_INVALLINEHANDLE;
}

LONG TSPIAPI TSPI_lineGetNumAddressIDs(HDRVLINE hdLine, LPDWORD lpdwNumAddressIDs)
{
    tsp_lock();
    tsp_line *l = tsp_line_valid(hdLine);
    if (l && lpdwNumAddressIDs) *lpdwNumAddressIDs = l->num_addresses;
    tsp_unlock();
    return l ? 0 : LINEERR_INVALLINEHANDLE;
}

/* Bound: 1 round trip. */
LONG TSPIAPI TSPI_lineSetStatusMessages(HDRVLINE hdLine, DWORD dwLineStates, DWORD dwAddressStates)
{
    LONG err = 0;
    DWORD h = line_bridge(hdLine, &err, NULL, NULL);
    if (!h) return err;
    /* TAPI itself reports OPEN, CLOSE, REINIT and TRANSLATECHANGE (it adds them to every LINEDEVCAPS.dwLineStates,
       Microsoft: TSPI_lineGetDevCaps remarks); the bridge would refuse them as not in its caps. */
    dwLineStates &= ~(DWORD)(LINEDEVSTATE_OPEN | LINEDEVSTATE_CLOSE | LINEDEVSTATE_REINIT | LINEDEVSTATE_TRANSLATECHANGE);
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(p, "h_line", h);
    cJSON_AddNumberToObject(p, "line_states", dwLineStates);
    cJSON_AddNumberToObject(p, "address_states", dwAddressStates);
    LONG rc = tsp_call_sync("line_set_status_messages", p, &r);
    cJSON_Delete(r);
    if (rc == 0) {
        tsp_lock();
        tsp_line *l = tsp_line_valid(hdLine);
        if (l) { l->line_states = dwLineStates; l->address_states = dwAddressStates; }
        tsp_unlock();
    }
    return rc;
}

/* Bound: 1 round trip (the line's features and media modes come from its caps). */
LONG TSPIAPI TSPI_lineGetLineDevStatus(HDRVLINE hdLine, LPLINEDEVSTATUS lpLineDevStatus)
{
    LONG err = 0;
    DWORD version = 0, dev = 0;
    if (!lpLineDevStatus) return LINEERR_INVALPOINTER;
    DWORD h = line_bridge(hdLine, &err, &version, &dev);
    if (!h) return err;
    if (lpLineDevStatus->dwTotalSize < sizeof(LINEDEVSTATUS)) return LINEERR_STRUCTURETOOSMALL;
    /* The provider's own status, not one made up here: a line out of service must read as such (no
       LINEDEVSTATUSFLAGS_INSERVICE), or an application cannot tell the installation from a refusal. */
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(p, "h_line", h);
    LONG rc = tsp_call_sync("line_get_line_dev_status", p, &r);
    if (rc) return rc;
    vfill v;
    vf_begin(&v, lpLineDevStatus, sizeof(LINEDEVSTATUS));
    lpLineDevStatus->dwNumActiveCalls = jdw(r, "num_active_calls");
    lpLineDevStatus->dwNumOnHoldCalls = jdw(r, "num_on_hold_calls");
    lpLineDevStatus->dwNumOnHoldPendCalls = jdw(r, "num_on_hold_pend_calls");
    lpLineDevStatus->dwLineFeatures = jdw(r, "line_features");
    lpLineDevStatus->dwNumCallCompletions = jdw(r, "num_call_completions");
    lpLineDevStatus->dwRingMode = jdw(r, "ring_mode");
    lpLineDevStatus->dwSignalLevel = jdw(r, "signal_level");
    lpLineDevStatus->dwBatteryLevel = jdw(r, "battery_level");
    lpLineDevStatus->dwRoamMode = jdw(r, "roam_mode");
    lpLineDevStatus->dwDevStatusFlags = jdw(r, "dev_status_flags");
    lpLineDevStatus->dwAvailableMediaModes = jdw(r, "available_media_modes");
    /* dwNumOpens, dwOpenMediaModes and AppInfo are TAPISRV's to fill: the bridge's opens are not TAPI's. */
    vf_end(&v);
    cJSON_Delete(r);
    (void)version; (void)dev;
    return 0;
}

/* No network. Device class "tapi/line" only (the one in LINEDEVCAPS.DeviceClasses). */
LONG TSPIAPI TSPI_lineGetID(HDRVLINE hdLine, DWORD dwAddressID, HDRVCALL hdCall, DWORD dwSelect,
                            LPVARSTRING lpDeviceID, LPCWSTR lpszDeviceClass, HANDLE hTargetProcess)
{
    (void)hTargetProcess;
    DWORD tapi_id = 0;
    tsp_lock();
    tsp_line *l = NULL;
    if (dwSelect == LINECALLSELECT_CALL) {
        tsp_call *c = tsp_call_valid(hdCall);
        if (!c) { tsp_unlock(); return LINEERR_INVALCALLHANDLE; }
        l = c->line;
    } else {
        l = tsp_line_valid(hdLine);
        if (!l) { tsp_unlock(); return LINEERR_INVALLINEHANDLE; }
        if (dwSelect == LINECALLSELECT_ADDRESS && dwAddressID >= l->num_addresses) { tsp_unlock(); return LINEERR_INVALADDRESSID; }
    }
    if (!l) { tsp_unlock(); return LINEERR_INVALCALLHANDLE; }
    tapi_id = g.devs[l->dev].tapi_id;
    tsp_unlock();
    if (!lpszDeviceClass || _wcsicmp(lpszDeviceClass, L"tapi/line") != 0) return LINEERR_INVALDEVICECLASS;
    if (!lpDeviceID) return LINEERR_INVALPOINTER;
    if (lpDeviceID->dwTotalSize < sizeof(VARSTRING)) return LINEERR_STRUCTURETOOSMALL;
    vfill v;
    vf_begin(&v, lpDeviceID, sizeof(VARSTRING));
    lpDeviceID->dwStringFormat = STRINGFORMAT_BINARY;
    vf_bytes(&v, &lpDeviceID->dwStringSize, &lpDeviceID->dwStringOffset, (const BYTE *)&tapi_id, sizeof tapi_id);
    vf_end(&v);
    return 0;
}

/* ---------- input structures ---------- */

/* A UTF-16 string of an input structure (offset from the structure's start) as UTF-8; 0 if out of bounds. */
static int in_wstr(const BYTE *base, DWORD total, DWORD size, DWORD off, char **out)
{
    *out = NULL;
    if (!size) return 1;
    if (off > total || size > total - off) return 0;
    size_t n = size / sizeof(WCHAR);
    WCHAR *w = malloc((n + 1) * sizeof(WCHAR));
    if (!w) return 0;
    memcpy(w, base + off, n * sizeof(WCHAR));
    while (n && w[n - 1] == 0) n--;
    w[n] = 0;
    *out = w2u(w, n);
    free(w);
    return *out != NULL;
}

static int add_wstr(cJSON *o, const char *key, const BYTE *base, DWORD total, DWORD size, DWORD off)
{
    char *s;
    if (!in_wstr(base, total, size, off, &s)) return 0;
    if (s) { cJSON_AddStringToObject(o, key, s); free(s); }
    return 1;
}

/* LINECALLPARAMS -> the bridge's LineCallParams (docs/bridge.md "Shapes"). ORIGOFFHOOK and every other
   dwCallParamFlags bit is forwarded as given (docs/tapi.md §11.1). */
static LONG call_params(const LINECALLPARAMS *cp, cJSON **out, DWORD *media_mode, DWORD *address_id)
{
    *out = NULL;
    if (!cp) return 0;
    DWORD total = cp->dwTotalSize;
    if (total < offsetof(LINECALLPARAMS, dwPredictiveAutoTransferStates)) return LINEERR_STRUCTURETOOSMALL;
    const BYTE *b = (const BYTE *)cp;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "bearer_mode", cp->dwBearerMode);
    cJSON_AddNumberToObject(o, "media_mode", cp->dwMediaMode);
    cJSON_AddNumberToObject(o, "call_param_flags", cp->dwCallParamFlags);
    cJSON_AddNumberToObject(o, "address_mode", cp->dwAddressMode);
    cJSON_AddNumberToObject(o, "address_id", cp->dwAddressID);
    int ok = add_wstr(o, "orig_address", b, total, cp->dwOrigAddressSize, cp->dwOrigAddressOffset)
          && add_wstr(o, "displayable_address", b, total, cp->dwDisplayableAddressSize, cp->dwDisplayableAddressOffset)
          && add_wstr(o, "called_party", b, total, cp->dwCalledPartySize, cp->dwCalledPartyOffset)
          && add_wstr(o, "comment", b, total, cp->dwCommentSize, cp->dwCommentOffset);
    if (ok && total >= offsetof(LINECALLPARAMS, dwSendingFlowspecSize))
        ok = add_wstr(o, "target_address", b, total, cp->dwTargetAddressSize, cp->dwTargetAddressOffset);
    if (ok && cp->dwDevSpecificSize) {
        if (cp->dwDevSpecificOffset > total || cp->dwDevSpecificSize > total - cp->dwDevSpecificOffset) ok = 0;
        else {
            char *s = b64_encode(b + cp->dwDevSpecificOffset, cp->dwDevSpecificSize);
            if (s) { cJSON_AddStringToObject(o, "dev_specific", s); free(s); }
        }
    }
    if (!ok) { cJSON_Delete(o); return LINEERR_INVALCALLPARAMS; }
    if (media_mode && cp->dwMediaMode) *media_mode = cp->dwMediaMode;
    if (address_id) *address_id = cp->dwAddressID;
    *out = o;
    return 0;
}

static void add_dest(cJSON *p, LPCWSTR dest, DWORD country)
{
    if (dest) {
        char *s = w2u(dest, (size_t)-1);
        if (s) { cJSON_AddStringToObject(p, "dest_address", s); free(s); }
        else cJSON_AddStringToObject(p, "dest_address", "");
    } else cJSON_AddNullToObject(p, "dest_address");
    cJSON_AddNumberToObject(p, "country_code", country);
}

/* ---------- asynchronous call control ----------
   Each returns dwRequestID after the bridge accepted the request (its LINE_REPLY later completes it exactly once,
   through the callback queue), or a negative LINEERR when the bridge refused it at once - then no completion
   (docs/tapi.md §3; Microsoft: ASYNC_COMPLETION, https://learn.microsoft.com/en-us/windows/win32/api/tspi/nc-tspi-async_completion).
   Bound: 1 round trip each. */

static LONG new_call_request(DRV_REQUESTID req, const char *method, cJSON *p, tsp_line *line_hint, HDRVLINE hdLine,
                             HTAPICALL htCall, LPHDRVCALL lphdCall, DWORD media, DWORD addr, tsp_call *owner)
{
    tsp_lock();
    tsp_line *l = line_hint ? line_hint : tsp_line_valid(hdLine);
    tsp_call *c = l ? tsp_call_new(l) : NULL;
    if (c) { c->htCall = htCall; c->reported = 1; c->media_mode = media ? media : LINEMEDIAMODE_INTERACTIVEVOICE; c->address_id = addr; }
    tsp_unlock();
    if (!c) { cJSON_Delete(p); return LINEERR_NOMEM; }
    /* *lphdCall is filled before we return (Microsoft: TSPI_lineMakeCall lphdCall,
       https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tspi_linemakecall); TAPI ignores it if we fail. */
    *lphdCall = (HDRVCALL)c;
    LONG rc = tsp_call_async(req, method, p, l, owner, c, NULL, 0);
    if (rc < 0) {
        /* Synchronous failure: TAPI will not call TSPI_lineCloseCall for it. */
        tsp_lock();
        if (tsp_call_valid((HDRVCALL)c)) tsp_call_free(c);
        tsp_unlock();
    }
    return rc;
}

LONG TSPIAPI TSPI_lineMakeCall(DRV_REQUESTID dwRequestID, HDRVLINE hdLine, HTAPICALL htCall, LPHDRVCALL lphdCall,
                               LPCWSTR lpszDestAddress, DWORD dwCountryCode, LPLINECALLPARAMS const lpCallParams)
{
    LONG err = 0;
    if (!lphdCall) return LINEERR_INVALPOINTER;
    DWORD h = line_bridge(hdLine, &err, NULL, NULL);
    if (!h) return err;
    cJSON *cp = NULL;
    DWORD media = 0, addr = 0;
    LONG rc = call_params(lpCallParams, &cp, &media, &addr);
    if (rc) return rc;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_line", h);
    add_dest(p, lpszDestAddress, dwCountryCode);
    if (cp) cJSON_AddItemToObject(p, "call_params", cp); else cJSON_AddNullToObject(p, "call_params");
    return new_call_request(dwRequestID, "line_make_call", p, NULL, hdLine, htCall, lphdCall, media, addr, NULL);
}

static LONG call_request(DRV_REQUESTID req, HDRVCALL hdCall, const char *method, cJSON *extra)
{
    LONG err = 0;
    callref r;
    DWORD h = call_bridge(hdCall, &err, &r);
    if (!h) { cJSON_Delete(extra); return err; }
    cJSON *p = extra ? extra : cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_call", h);
    return tsp_call_async(req, method, p, r.l, r.c, NULL, NULL, 0);
}

LONG TSPIAPI TSPI_lineDial(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCWSTR lpszDestAddress, DWORD dwCountryCode)
{
    cJSON *p = cJSON_CreateObject();
    add_dest(p, lpszDestAddress ? lpszDestAddress : L"", dwCountryCode);
    return call_request(dwRequestID, hdCall, "line_dial", p);
}
LONG TSPIAPI TSPI_lineAnswer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCSTR lpsUserUserInfo, DWORD dwSize)
{
    (void)lpsUserUserInfo; (void)dwSize; /* no user-user information on the bridge */
    return call_request(dwRequestID, hdCall, "line_answer", NULL);
}
LONG TSPIAPI TSPI_lineDrop(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCSTR lpsUserUserInfo, DWORD dwSize)
{
    (void)lpsUserUserInfo; (void)dwSize;
    return call_request(dwRequestID, hdCall, "line_drop", NULL);
}
LONG TSPIAPI TSPI_lineHold(DRV_REQUESTID dwRequestID, HDRVCALL hdCall)
{
    return call_request(dwRequestID, hdCall, "line_hold", NULL);
}
LONG TSPIAPI TSPI_lineUnhold(DRV_REQUESTID dwRequestID, HDRVCALL hdCall)
{
    return call_request(dwRequestID, hdCall, "line_unhold", NULL);
}
LONG TSPIAPI TSPI_lineBlindTransfer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCWSTR lpszDestAddress,
                                    DWORD dwCountryCode)
{
    cJSON *p = cJSON_CreateObject();
    add_dest(p, lpszDestAddress ? lpszDestAddress : L"", dwCountryCode);
    return call_request(dwRequestID, hdCall, "line_blind_transfer", p);
}
LONG TSPIAPI TSPI_lineRedirect(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, LPCWSTR lpszDestAddress,
                               DWORD dwCountryCode)
{
    cJSON *p = cJSON_CreateObject();
    add_dest(p, lpszDestAddress ? lpszDestAddress : L"", dwCountryCode);
    return call_request(dwRequestID, hdCall, "line_redirect", p);
}

LONG TSPIAPI TSPI_lineSwapHold(DRV_REQUESTID dwRequestID, HDRVCALL hdActiveCall, HDRVCALL hdHeldCall)
{
    LONG err = 0;
    callref a, b;
    DWORD ha = call_bridge(hdActiveCall, &err, &a);
    if (!ha) return err;
    DWORD hb = call_bridge(hdHeldCall, &err, &b);
    if (!hb) return err;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_active_call", ha);
    cJSON_AddNumberToObject(p, "h_held_call", hb);
    return tsp_call_async(dwRequestID, "line_swap_hold", p, a.l, a.c, NULL, NULL, 0);
}

LONG TSPIAPI TSPI_lineSetupTransfer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, HTAPICALL htConsultCall,
                                    LPHDRVCALL lphdConsultCall, LPLINECALLPARAMS const lpCallParams)
{
    LONG err = 0;
    callref c;
    if (!lphdConsultCall) return LINEERR_INVALPOINTER;
    DWORD h = call_bridge(hdCall, &err, &c);
    if (!h) return err;
    cJSON *cp = NULL;
    DWORD media = 0, addr = 0;
    LONG rc = call_params(lpCallParams, &cp, &media, &addr);
    if (rc) return rc;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_call", h);
    if (cp) cJSON_AddItemToObject(p, "call_params", cp); else cJSON_AddNullToObject(p, "call_params");
    tsp_line *l = c.l;
    DWORD caddr = c.address_id;
    /* The consultation call is created by the bridge and named in the reply's new_call (docs/bridge.md). */
    return new_call_request(dwRequestID, "line_setup_transfer", p, l, NULL, htConsultCall, lphdConsultCall, media,
                            lpCallParams ? addr : caddr, c.c);
}

LONG TSPIAPI TSPI_lineCompleteTransfer(DRV_REQUESTID dwRequestID, HDRVCALL hdCall, HDRVCALL hdConsultCall,
                                       HTAPICALL htConfCall, LPHDRVCALL lphdConfCall, DWORD dwTransferMode)
{
    LONG err = 0;
    callref c, k;
    DWORD h = call_bridge(hdCall, &err, &c);
    if (!h) return err;
    DWORD hk = call_bridge(hdConsultCall, &err, &k);
    if (!hk) return err == (LONG)LINEERR_INVALCALLHANDLE ? (LONG)LINEERR_INVALCONSULTCALLHANDLE : err;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_call", h);
    cJSON_AddNumberToObject(p, "h_consult_call", hk);
    cJSON_AddNumberToObject(p, "transfer_mode", dwTransferMode);
    tsp_line *l = c.l;
    if (dwTransferMode == LINETRANSFERMODE_CONFERENCE) {
        if (!lphdConfCall) { cJSON_Delete(p); return LINEERR_INVALPOINTER; }
        return new_call_request(dwRequestID, "line_complete_transfer", p, l, NULL, htConfCall, lphdConfCall, 0, 0, c.c);
    }
    if (lphdConfCall) *lphdConfCall = NULL; /* no conference call in transfer mode */
    return tsp_call_async(dwRequestID, "line_complete_transfer", p, l, c.c, NULL, NULL, 0);
}

/* LINEFORWARDLIST -> an array of the bridge's LineForward (string offsets count from the list's start,
   docs/tapi.md §6.3). */
static LONG forward_list(const LINEFORWARDLIST *fl, cJSON **out)
{
    *out = NULL;
    if (!fl) return 0;
    DWORD total = fl->dwTotalSize;
    if (total < 8 || fl->dwNumEntries > (total - 8) / FWD_ENTRY) return LINEERR_INVALPARAM;
    const BYTE *b = (const BYTE *)fl;
    cJSON *a = cJSON_CreateArray();
    for (DWORD i = 0; i < fl->dwNumEntries; i++) {
        DWORD e[6];
        memcpy(e, b + 8 + i * FWD_ENTRY, sizeof e);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);
        cJSON_AddNumberToObject(o, "forward_mode", e[0]);
        cJSON_AddNumberToObject(o, "dest_country_code", e[3]);
        char *caller = NULL, *dest = NULL;
        if (!in_wstr(b, total, e[1], e[2], &caller) || !in_wstr(b, total, e[4], e[5], &dest)) {
            free(caller); free(dest); cJSON_Delete(a);
            return LINEERR_INVALPARAM;
        }
        cJSON_AddStringToObject(o, "caller_address", caller ? caller : "");
        cJSON_AddStringToObject(o, "dest_address", dest ? dest : "");
        free(caller); free(dest);
    }
    *out = a;
    return 0;
}

LONG TSPIAPI TSPI_lineForward(DRV_REQUESTID dwRequestID, HDRVLINE hdLine, DWORD bAllAddresses, DWORD dwAddressID,
                              LPLINEFORWARDLIST const lpForwardList, DWORD dwNumRingsNoAnswer,
                              HTAPICALL htConsultCall, LPHDRVCALL lphdConsultCall, LPLINECALLPARAMS const lpCallParams)
{
    (void)htConsultCall; (void)lpCallParams;
    LONG err = 0;
    /* The bridge never makes a consultation call for forwarding (no LINEADDRCAPFLAGS_FWDCONSULT): *lphdConsultCall
       is NULL (Microsoft: TSPI_lineForward, https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tspi_lineforward). */
    if (lphdConsultCall) *lphdConsultCall = NULL;
    DWORD h = line_bridge(hdLine, &err, NULL, NULL);
    if (!h) return err;
    cJSON *list = NULL;
    LONG rc = forward_list(lpForwardList, &list);
    if (rc) return rc;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_line", h);
    cJSON_AddBoolToObject(p, "all_addresses", bAllAddresses != 0);
    cJSON_AddNumberToObject(p, "address_id", dwAddressID);
    if (list) cJSON_AddItemToObject(p, "forward_list", list); else cJSON_AddNullToObject(p, "forward_list");
    cJSON_AddNumberToObject(p, "num_rings_no_answer", dwNumRingsNoAnswer);
    tsp_lock();
    tsp_line *l = tsp_line_valid(hdLine);
    tsp_unlock();
    return tsp_call_async(dwRequestID, "line_forward", p, l, NULL, NULL, NULL, 0);
}

LONG TSPIAPI TSPI_lineDevSpecific(DRV_REQUESTID dwRequestID, HDRVLINE hdLine, DWORD dwAddressID, HDRVCALL hdCall,
                                  LPVOID lpParams, DWORD dwSize)
{
    LONG err = 0;
    DWORD h = line_bridge(hdLine, &err, NULL, NULL);
    if (!h) return err;
    DWORD hc = 0;
    callref c = { 0 };
    if (hdCall) { hc = call_bridge(hdCall, &err, &c); if (!hc) return err; }
    char *b64 = b64_encode(lpParams ? lpParams : (LPVOID)"", lpParams ? dwSize : 0);
    if (!b64) return LINEERR_NOMEM;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "h_line", h);
    cJSON_AddNumberToObject(p, "address_id", dwAddressID);
    cJSON_AddNumberToObject(p, "h_call", hc);
    cJSON_AddStringToObject(p, "params", b64);
    free(b64);
    tsp_lock();
    tsp_line *l = tsp_line_valid(hdLine);
    tsp_unlock();
    /* lpParams stays valid until the completion; the reply's data is written back into it (docs/tapi.md §0.6). */
    return tsp_call_async(dwRequestID, "line_dev_specific", p, l, c.c, NULL, lpParams, lpParams ? dwSize : 0);
}

/* ---------- status queries (1 round trip each) ---------- */

LONG TSPIAPI TSPI_lineGetAddressStatus(HDRVLINE hdLine, DWORD dwAddressID, LPLINEADDRESSSTATUS lpAddressStatus)
{
    LONG err = 0;
    if (!lpAddressStatus) return LINEERR_INVALPOINTER;
    DWORD h = line_bridge(hdLine, &err, NULL, NULL);
    if (!h) return err;
    if (lpAddressStatus->dwTotalSize < sizeof(LINEADDRESSSTATUS)) return LINEERR_STRUCTURETOOSMALL;
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(p, "h_line", h);
    cJSON_AddNumberToObject(p, "address_id", dwAddressID);
    LONG rc = tsp_call_sync("line_get_address_status", p, &r);
    if (rc) return rc;
    vfill v;
    vf_begin(&v, lpAddressStatus, sizeof(LINEADDRESSSTATUS));
    lpAddressStatus->dwNumInUse = jdw(r, "num_in_use");
    lpAddressStatus->dwNumActiveCalls = jdw(r, "num_active_calls");
    lpAddressStatus->dwNumOnHoldCalls = jdw(r, "num_on_hold_calls");
    lpAddressStatus->dwNumOnHoldPendCalls = jdw(r, "num_on_hold_pend_calls");
    lpAddressStatus->dwAddressFeatures = jdw(r, "address_features");
    lpAddressStatus->dwNumRingsNoAnswer = jdw(r, "num_rings_no_answer");
    const cJSON *fw = cJSON_GetObjectItemCaseSensitive(r, "forward");
    DWORD n = cJSON_IsArray(fw) ? (DWORD)cJSON_GetArraySize(fw) : 0;
    if (n) {
        /* The entries (24 bytes each), then their strings; offsets from the status structure's start. */
        DWORD off = 0;
        BYTE *e = vf_reserve(&v, n * FWD_ENTRY, &off);
        if (e) {
            lpAddressStatus->dwForwardNumEntries = n;
            lpAddressStatus->dwForwardSize = n * FWD_ENTRY;
            lpAddressStatus->dwForwardOffset = off;
            memset(e, 0, n * FWD_ENTRY);
        }
        DWORD i = 0, saved_total = v.total;
        const cJSON *it;
        if (!e) v.total = 0; /* the entries did not fit: their strings are only counted in dwNeededSize */
        cJSON_ArrayForEach(it, fw) {
            DWORD ent[6] = { jdw(it, "forward_mode"), 0, 0, jdw(it, "dest_country_code"), 0, 0 };
            vf_wstr(&v, &ent[1], &ent[2], jstr(it, "caller_address"));
            vf_wstr(&v, &ent[4], &ent[5], jstr(it, "dest_address"));
            if (e) memcpy(v.base + off + i * FWD_ENTRY, ent, sizeof ent);
            i++;
        }
        v.total = saved_total;
    }
    vf_b64(&v, &lpAddressStatus->dwDevSpecificSize, &lpAddressStatus->dwDevSpecificOffset, jstr(r, "dev_specific"));
    vf_end(&v);
    cJSON_Delete(r);
    return 0;
}

LONG TSPIAPI TSPI_lineGetCallInfo(HDRVCALL hdCall, LPLINECALLINFO lpCallInfo)
{
#define C(k, f) F(LINECALLINFO, k, f)
    static const fmap m[] = {
        C("address_id", dwAddressID), C("bearer_mode", dwBearerMode), C("rate", dwRate),
        C("media_mode", dwMediaMode), C("app_specific", dwAppSpecific), C("call_id", dwCallID),
        C("related_call_id", dwRelatedCallID), C("call_param_flags", dwCallParamFlags),
        C("call_states", dwCallStates), C("origin", dwOrigin), C("reason", dwReason),
        C("completion_id", dwCompletionID), C("country_code", dwCountryCode), C("trunk", dwTrunk),
        C("caller_id_flags", dwCallerIDFlags), C("called_id_flags", dwCalledIDFlags),
        C("connected_id_flags", dwConnectedIDFlags), C("redirection_id_flags", dwRedirectionIDFlags),
        C("redirecting_id_flags", dwRedirectingIDFlags),
    };
#undef C
    LONG err = 0;
    callref c;
    if (!lpCallInfo) return LINEERR_INVALPOINTER;
    DWORD h = call_bridge(hdCall, &err, &c);
    if (!h) return err;
    DWORD version = c.version, tapi_id = c.tapi_id;
    DWORD fixed = fixed_callinfo(version);
    if (lpCallInfo->dwTotalSize < fixed) return LINEERR_STRUCTURETOOSMALL;
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(p, "h_call", h);
    LONG rc = tsp_call_sync("line_get_call_info", p, &r);
    if (rc) return rc;
    vfill v;
    vf_begin(&v, lpCallInfo, fixed);
    put_fields(v.base, r, m, sizeof m / sizeof m[0], fixed);
    lpCallInfo->dwLineDeviceID = tapi_id;
    /* hLine, dwNumOwners, dwNumMonitors and AppName are TAPISRV's to fill: they are about its applications. */
    tsp_lock();
    if (tsp_call_valid(hdCall) && lpCallInfo->dwMediaMode) c.c->media_mode = lpCallInfo->dwMediaMode;
    tsp_unlock();
    LINECALLINFO *ci = lpCallInfo;
    vf_wstr(&v, &ci->dwCallerIDSize, &ci->dwCallerIDOffset, jstr(r, "caller_id"));
    vf_wstr(&v, &ci->dwCallerIDNameSize, &ci->dwCallerIDNameOffset, jstr(r, "caller_id_name"));
    vf_wstr(&v, &ci->dwCalledIDSize, &ci->dwCalledIDOffset, jstr(r, "called_id"));
    vf_wstr(&v, &ci->dwCalledIDNameSize, &ci->dwCalledIDNameOffset, jstr(r, "called_id_name"));
    vf_wstr(&v, &ci->dwConnectedIDSize, &ci->dwConnectedIDOffset, jstr(r, "connected_id"));
    vf_wstr(&v, &ci->dwConnectedIDNameSize, &ci->dwConnectedIDNameOffset, jstr(r, "connected_id_name"));
    vf_wstr(&v, &ci->dwRedirectionIDSize, &ci->dwRedirectionIDOffset, jstr(r, "redirection_id"));
    vf_wstr(&v, &ci->dwRedirectionIDNameSize, &ci->dwRedirectionIDNameOffset, jstr(r, "redirection_id_name"));
    vf_wstr(&v, &ci->dwRedirectingIDSize, &ci->dwRedirectingIDOffset, jstr(r, "redirecting_id"));
    vf_wstr(&v, &ci->dwRedirectingIDNameSize, &ci->dwRedirectingIDNameOffset, jstr(r, "redirecting_id_name"));
    vf_wstr(&v, &ci->dwDisplayableAddressSize, &ci->dwDisplayableAddressOffset, jstr(r, "displayable_address"));
    vf_wstr(&v, &ci->dwCalledPartySize, &ci->dwCalledPartyOffset, jstr(r, "called_party"));
    vf_wstr(&v, &ci->dwCommentSize, &ci->dwCommentOffset, jstr(r, "comment"));
    vf_wstr(&v, &ci->dwDisplaySize, &ci->dwDisplayOffset, jstr(r, "display"));
    vf_b64(&v, &ci->dwDevSpecificSize, &ci->dwDevSpecificOffset, jstr(r, "dev_specific"));
    if (version >= 0x00030000) {
        ci->dwCallerIDAddressType = ci->dwCalledIDAddressType = ci->dwConnectedIDAddressType =
            ci->dwRedirectionIDAddressType = ci->dwRedirectingIDAddressType = LINEADDRESSTYPE_PHONENUMBER;
    }
    vf_end(&v);
    cJSON_Delete(r);
    return 0;
}

LONG TSPIAPI TSPI_lineGetCallStatus(HDRVCALL hdCall, LPLINECALLSTATUS lpCallStatus)
{
    LONG err = 0;
    callref c;
    if (!lpCallStatus) return LINEERR_INVALPOINTER;
    DWORD h = call_bridge(hdCall, &err, &c);
    if (!h) return err;
    if (lpCallStatus->dwTotalSize < sizeof(LINECALLSTATUS)) return LINEERR_STRUCTURETOOSMALL;
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(p, "h_call", h);
    LONG rc = tsp_call_sync("line_get_call_status", p, &r);
    if (rc) return rc;
    vfill v;
    vf_begin(&v, lpCallStatus, sizeof(LINECALLSTATUS));
    lpCallStatus->dwCallState = jdw(r, "call_state");
    lpCallStatus->dwCallStateMode = jdw(r, "call_state_mode");
    lpCallStatus->dwCallPrivilege = jdw(r, "call_privilege"); /* TAPISRV overrides it per application */
    lpCallStatus->dwCallFeatures = jdw(r, "call_features");
    lpCallStatus->dwCallFeatures2 = jdw(r, "call_features2");
    tsp_lock();
    if (tsp_call_valid(hdCall)) {
        if (c.c->state_time.wYear) lpCallStatus->tStateEntryTime = c.c->state_time;
        else GetSystemTime(&lpCallStatus->tStateEntryTime);
    }
    tsp_unlock();
    vf_b64(&v, &lpCallStatus->dwDevSpecificSize, &lpCallStatus->dwDevSpecificOffset, jstr(r, "dev_specific"));
    vf_end(&v);
    cJSON_Delete(r);
    return 0;
}

LONG TSPIAPI TSPI_lineGetCallAddressID(HDRVCALL hdCall, LPDWORD lpdwAddressID)
{
    tsp_lock();
    tsp_call *c = tsp_call_valid(hdCall);
    if (c && lpdwAddressID) *lpdwAddressID = c->address_id;
    tsp_unlock();
    return c ? 0 : LINEERR_INVALCALLHANDLE;
}

/* TAPISRV (2.1 and later) asks for the ids of every call it learns of when this is exported, instead of a whole
   LINECALLINFO (Microsoft: TSPI_lineGetCallIDs,
   https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tspi_linegetcallids). Bound: 1 round trip. */
LONG TSPIAPI TSPI_lineGetCallIDs(HDRVCALL hdCall, LPDWORD lpdwAddressID, LPDWORD lpdwCallID,
                                 LPDWORD lpdwRelatedCallID)
{
    LONG err = 0;
    callref c;
    DWORD h = call_bridge(hdCall, &err, &c);
    if (!h) return err;
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    cJSON_AddNumberToObject(p, "h_call", h);
    LONG rc = tsp_call_sync("line_get_call_info", p, &r);
    if (rc == 0) {
        if (lpdwAddressID) *lpdwAddressID = jdw(r, "address_id");
        if (lpdwCallID) *lpdwCallID = jdw(r, "call_id");
        if (lpdwRelatedCallID) *lpdwRelatedCallID = jdw(r, "related_call_id");
    }
    cJSON_Delete(r);
    return rc;
}
