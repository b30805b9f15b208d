/* A minimal library with tapi32's exports, for `--backend tapi32:PATH` on Linux (docs/windows.md,
   "Bring your own tapi32"). It knows one line device, the desk extension "201", and implements just
   enough to initialise, negotiate, read the capabilities and open the desk line; every other export is
   simply absent, which the adapter reports by name on first use.

   Build (the SDK header from mingw-w64, this directory's include/ for the Windows base types):
     gcc -shared -fPIC -fshort-wchar -Wall -Werror -Iinclude -idirafter /usr/share/mingw-w64/include \
         -o libtapi32like.so tapi32_like.c -lpthread

   The friendly application name passed to lineInitializeExW comes back as LINEDEVCAPS' ProviderInfo,
   so a test can see that UTF-16 strings cross the boundary intact. */
#include <windows.h>
#include <tapi.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <errno.h>

#define APP 0x00010001u
#define LINE 0x00020001u
#define FIXED_DEVCAPS offsetof(LINEDEVCAPS, dwLineFeatures)   /* TAPI 1.3's fixed part, grown below */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t posted = PTHREAD_COND_INITIALIZER;
static int initialized, line_open, queued;
static LINEMESSAGE queue[8];
static WCHAR app_name[64];

static size_t wlen(LPCWSTR s) { size_t n = 0; while (s[n]) n++; return n; }

static DWORD put_string(LPVOID base, DWORD total, DWORD *used, DWORD *size_field, DWORD *offset_field,
                        LPCWSTR text) {
  DWORD bytes = (DWORD)((wlen(text) + 1) * sizeof(WCHAR));
  DWORD at = (*used + 3u) & ~3u;
  if (at + bytes <= total) {
    memcpy((char *)base + at, text, bytes);
    *size_field = bytes; *offset_field = at; *used = at + bytes;
  }
  return at + bytes;     /* what the structure needs with this item */
}

static void post(DWORD device, DWORD msg, DWORD_PTR p1, DWORD_PTR p2, DWORD_PTR p3) {
  if (queued < 8) {
    LINEMESSAGE m = {device, msg, 0, p1, p2, p3};
    queue[queued++] = m;
    pthread_cond_broadcast(&posted);
  }
}

LONG WINAPI lineInitializeExW(LPHLINEAPP app, HINSTANCE inst, LINECALLBACK cb, LPCWSTR name, LPDWORD devs,
                              LPDWORD version, LPLINEINITIALIZEEXPARAMS params) {
  (void)inst; (void)cb;
  if (!app || !devs || !version || !params) return (LONG)LINEERR_INVALPOINTER;
  if (params->dwTotalSize < sizeof(LINEINITIALIZEEXPARAMS)) return (LONG)LINEERR_STRUCTURETOOSMALL;
  if ((params->dwOptions & 0x7FFFFFFF) != LINEINITIALIZEEXOPTION_USEEVENT) return (LONG)LINEERR_INVALPARAM;
  pthread_mutex_lock(&lock);
  memset(app_name, 0, sizeof app_name);
  if (name) for (size_t i = 0; i < 63 && name[i]; i++) app_name[i] = name[i];
  initialized = 1; queued = 0; line_open = 0;
  pthread_mutex_unlock(&lock);
  *app = APP; *devs = 1; *version = 0x00020002;
  params->dwNeededSize = params->dwUsedSize = sizeof(LINEINITIALIZEEXPARAMS);
  params->Handles.hEvent = (HANDLE)(uintptr_t)0x1234;
  return 0;
}

LONG WINAPI lineShutdown(HLINEAPP app) {
  if (app != APP || !initialized) return (LONG)LINEERR_INVALAPPHANDLE;
  pthread_mutex_lock(&lock);
  initialized = 0; line_open = 0;
  pthread_cond_broadcast(&posted);
  pthread_mutex_unlock(&lock);
  return 0;
}

LONG WINAPI lineNegotiateAPIVersion(HLINEAPP app, DWORD device, DWORD low, DWORD high, LPDWORD version,
                                    LPLINEEXTENSIONID ext) {
  if (app != APP || !initialized) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (!version || !ext) return (LONG)LINEERR_INVALPOINTER;
  if (low > 0x00020002 || high < 0x00010003) return (LONG)LINEERR_INCOMPATIBLEAPIVERSION;
  *version = high < 0x00020002 ? high : 0x00020002;
  memset(ext, 0, sizeof *ext);
  return 0;
}

LONG WINAPI lineGetDevCapsW(HLINEAPP app, DWORD device, DWORD version, DWORD ext, LPLINEDEVCAPS caps) {
  (void)ext;
  if (app != APP || !initialized) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (!caps) return (LONG)LINEERR_INVALPOINTER;
  DWORD fixed = version >= 0x00020000 ? (DWORD)offsetof(LINEDEVCAPS, PermanentLineGuid) : (DWORD)FIXED_DEVCAPS;
  DWORD total = caps->dwTotalSize;
  if (total < fixed) return (LONG)LINEERR_STRUCTURETOOSMALL;
  memset((char *)caps + 4, 0, fixed - 4);
  DWORD used = fixed, needed;
  pthread_mutex_lock(&lock);
  needed = put_string(caps, total, &used, &caps->dwProviderInfoSize, &caps->dwProviderInfoOffset, app_name);
  pthread_mutex_unlock(&lock);
  DWORD used2 = used;
  DWORD need2 = put_string(caps, total, &used2, &caps->dwLineNameSize, &caps->dwLineNameOffset,
                           L"Desk 201 \u00e9t\u00e9");
  caps->dwNeededSize = need2 > needed ? need2 : needed;
  caps->dwUsedSize = used2;
  caps->dwPermanentLineID = 201;
  caps->dwStringFormat = STRINGFORMAT_UNICODE;
  caps->dwAddressModes = LINEADDRESSMODE_ADDRESSID;
  caps->dwNumAddresses = 1;
  caps->dwBearerModes = LINEBEARERMODE_VOICE;
  caps->dwMediaModes = LINEMEDIAMODE_INTERACTIVEVOICE;
  caps->dwMaxNumActiveCalls = 1;
  return 0;
}

LONG WINAPI lineGetAddressCapsW(HLINEAPP app, DWORD device, DWORD address, DWORD version, DWORD ext,
                                LPLINEADDRESSCAPS caps) {
  (void)ext;
  if (app != APP || !initialized) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (address != 0) return (LONG)LINEERR_INVALADDRESSID;
  if (!caps) return (LONG)LINEERR_INVALPOINTER;
  DWORD fixed = version >= 0x00020000 ? (DWORD)sizeof(LINEADDRESSCAPS)
                                      : (DWORD)offsetof(LINEADDRESSCAPS, dwAddressFeatures);
  if (caps->dwTotalSize < fixed) return (LONG)LINEERR_STRUCTURETOOSMALL;
  memset((char *)caps + 4, 0, fixed - 4);
  DWORD used = fixed;
  caps->dwNeededSize = put_string(caps, caps->dwTotalSize, &used, &caps->dwAddressSize, &caps->dwAddressOffset,
                                  L"+49 89 1234-201");
  caps->dwUsedSize = used;
  caps->dwLineDeviceID = 0;
  caps->dwMaxNumActiveCalls = 1;
  return 0;
}

LONG WINAPI lineOpenW(HLINEAPP app, DWORD device, LPHLINE line, DWORD version, DWORD ext, DWORD_PTR instance,
                      DWORD privileges, DWORD media, LPLINECALLPARAMS params) {
  (void)version; (void)ext; (void)instance; (void)privileges; (void)media; (void)params;
  if (app != APP || !initialized) return (LONG)LINEERR_INVALAPPHANDLE;
  if (device != 0) return (LONG)LINEERR_BADDEVICEID;
  if (!line) return (LONG)LINEERR_INVALPOINTER;
  pthread_mutex_lock(&lock);
  line_open = 1;
  *line = LINE;
  post(0, LINE_LINEDEVSTATE, LINEDEVSTATE_OPEN, 0, 0);    /* so the message pump has something to carry */
  pthread_mutex_unlock(&lock);
  return 0;
}

LONG WINAPI lineClose(HLINE line) {
  if (line != LINE || !line_open) return (LONG)LINEERR_INVALLINEHANDLE;
  line_open = 0;
  return 0;
}

LONG WINAPI lineSetStatusMessages(HLINE line, DWORD line_states, DWORD address_states) {
  (void)line_states; (void)address_states;
  return line == LINE && line_open ? 0 : (LONG)LINEERR_INVALLINEHANDLE;
}

/* The message pump's wait: real time, bounded by the caller's timeout (INFINITE = 0xFFFFFFFF). */
LONG WINAPI lineGetMessage(HLINEAPP app, LPLINEMESSAGE message, DWORD timeout_ms) {
  if (!message) return (LONG)LINEERR_INVALPOINTER;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
  pthread_mutex_lock(&lock);
  int rc = 0;
  while (app == APP && initialized && !queued && rc != ETIMEDOUT)
    rc = timeout_ms == 0xFFFFFFFF ? pthread_cond_wait(&posted, &lock)
                                  : pthread_cond_timedwait(&posted, &lock, &until);
  LONG result = 0;
  if (app != APP || !initialized) result = (LONG)LINEERR_INVALAPPHANDLE;
  else if (!queued) result = (LONG)LINEERR_OPERATIONFAILED;
  else {
    *message = queue[0];
    memmove(queue, queue + 1, sizeof(LINEMESSAGE) * (size_t)--queued);
  }
  pthread_mutex_unlock(&lock);
  return result;
}
