/* Configuration of the TSP: bridge URL and token in HKCU\Software\ro-conformance\TSP (BridgeUrl, Token; REG_SZ),
   overridden by the environment (RO_TSP_BRIDGE, RO_TSP_TOKEN) - tsp/CONTRACT.md "Configuration of the TSP".
   TUISPI_* run in the configuring application's process (Microsoft: TUISPI_providerConfig,
   https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tuispi_providerconfig); the dialog is built
   from an in-memory DLGTEMPLATE, so the DLL needs no resource compiler. */
#include "tsp_internal.h"

#include <stdlib.h>
#include <string.h>

#define REG_PATH "Software\\ro-conformance\\TSP"
#define DEFAULT_URL "ws://127.0.0.1:7755/"

static int reg_get(HKEY k, const char *name, char *out, size_t outsz)
{
    DWORD type = 0, sz = (DWORD)outsz - 1;
    if (RegQueryValueExA(k, name, NULL, &type, (BYTE *)out, &sz) != ERROR_SUCCESS || type != REG_SZ) {
        out[0] = 0;
        return 0;
    }
    out[sz < outsz ? sz : outsz - 1] = 0;
    return 1;
}

int tsp_registry_read(char *url, size_t urlsz, char *token, size_t toksz)
{
    HKEY k;
    url[0] = token[0] = 0;
    if (RegOpenKeyExA(HKEY_CURRENT_USER, REG_PATH, 0, KEY_READ, &k) != ERROR_SUCCESS) return 0;
    reg_get(k, "BridgeUrl", url, urlsz);
    reg_get(k, "Token", token, toksz);
    RegCloseKey(k);
    return 1;
}

static LONG registry_write(const char *url, const char *token)
{
    HKEY k;
    if (RegCreateKeyExA(HKEY_CURRENT_USER, REG_PATH, 0, NULL, 0, KEY_WRITE, NULL, &k, NULL) != ERROR_SUCCESS)
        return LINEERR_OPERATIONFAILED;
    LONG rc = RegSetValueExA(k, "BridgeUrl", 0, REG_SZ, (const BYTE *)url, (DWORD)strlen(url) + 1);
    if (rc == ERROR_SUCCESS)
        rc = RegSetValueExA(k, "Token", 0, REG_SZ, (const BYTE *)token, (DWORD)strlen(token) + 1);
    RegCloseKey(k);
    return rc == ERROR_SUCCESS ? 0 : LINEERR_OPERATIONFAILED;
}

/* ---------- the dialog ---------- */

enum { ID_URL = 101, ID_TOKEN = 102 };

typedef struct { BYTE buf[2048]; size_t n; } tmpl;
static void t_align(tmpl *t, size_t a) { while (t->n % a) t->buf[t->n++] = 0; }
static void t_word(tmpl *t, WORD w) { memcpy(t->buf + t->n, &w, 2); t->n += 2; }
static void t_dword(tmpl *t, DWORD d) { memcpy(t->buf + t->n, &d, 4); t->n += 4; }
static void t_wstr(tmpl *t, const WCHAR *s) { do t_word(t, *s); while (*s++); }
static void t_item(tmpl *t, DWORD style, short x, short y, short cx, short cy, WORD id, WORD cls, const WCHAR *text)
{
    t_align(t, 4);
    t_dword(t, style | WS_CHILD | WS_VISIBLE);
    t_dword(t, 0);
    t_word(t, (WORD)x); t_word(t, (WORD)y); t_word(t, (WORD)cx); t_word(t, (WORD)cy);
    t_word(t, id);
    t_word(t, 0xFFFF); t_word(t, cls); /* predefined class by atom: 0x80 button, 0x81 edit, 0x82 static */
    t_wstr(t, text);
    t_word(t, 0); /* no creation data */
}

typedef struct { char url[512], token[512]; } cfgdlg;

static INT_PTR CALLBACK dlg_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp)
{
    cfgdlg *c = (cfgdlg *)GetWindowLongPtrW(h, DWLP_USER);
    switch (msg) {
    case WM_INITDIALOG: {
        c = (cfgdlg *)lp;
        SetWindowLongPtrW(h, DWLP_USER, (LONG_PTR)c);
        WCHAR *u = u2w(c->url), *k = u2w(c->token);
        if (u) SetDlgItemTextW(h, ID_URL, u);
        if (k) SetDlgItemTextW(h, ID_TOKEN, k);
        free(u); free(k);
        return TRUE;
    }
    case WM_COMMAND:
        if (LOWORD(wp) == IDOK && c) {
            WCHAR w[512];
            GetDlgItemTextW(h, ID_URL, w, 512);
            char *s = w2u(w, (size_t)-1);
            if (!s || _strnicmp(s, "ws://", 5) != 0) {
                free(s);
                MessageBoxW(h, L"The bridge URL must start with ws:// (e.g. ws://127.0.0.1:7755/).",
                            L"ro-conformance TSP", MB_ICONWARNING | MB_OK);
                return TRUE;
            }
            strncpy(c->url, s, sizeof c->url - 1);
            free(s);
            GetDlgItemTextW(h, ID_TOKEN, w, 512);
            s = w2u(w, (size_t)-1);
            strncpy(c->token, s ? s : "", sizeof c->token - 1);
            free(s);
            EndDialog(h, IDOK);
            return TRUE;
        }
        if (LOWORD(wp) == IDCANCEL) { EndDialog(h, IDCANCEL); return TRUE; }
        break;
    default: break;
    }
    return FALSE;
}

static LONG config_dialog(HWND owner)
{
    cfgdlg c;
    memset(&c, 0, sizeof c);
    tsp_registry_read(c.url, sizeof c.url, c.token, sizeof c.token);
    if (!c.url[0]) strcpy(c.url, DEFAULT_URL);
    /* Unattended (scripted installs, tests): RO_TSP_UI=none stores the environment's values without a dialog. */
    char ui[16] = "";
    GetEnvironmentVariableA("RO_TSP_UI", ui, sizeof ui);
    if (_stricmp(ui, "none") == 0) {
        GetEnvironmentVariableA("RO_TSP_BRIDGE", c.url, sizeof c.url);
        GetEnvironmentVariableA("RO_TSP_TOKEN", c.token, sizeof c.token);
        return registry_write(c.url[0] ? c.url : DEFAULT_URL, c.token);
    }
    static tmpl t;
    memset(&t, 0, sizeof t);
    t_dword(&t, DS_MODALFRAME | DS_SETFONT | DS_CENTER | WS_POPUP | WS_CAPTION | WS_SYSMENU);
    t_dword(&t, 0);
    t_word(&t, 6); /* items */
    t_word(&t, 0); t_word(&t, 0); t_word(&t, 260); t_word(&t, 92);
    t_word(&t, 0); t_word(&t, 0); /* no menu, default class */
    t_wstr(&t, L"ro-conformance TSP: bridge");
    t_word(&t, 9);
    t_wstr(&t, L"MS Shell Dlg");
    t_item(&t, SS_LEFT, 8, 10, 60, 10, 0xFFFF, 0x82, L"Bridge URL:");
    t_item(&t, ES_AUTOHSCROLL | WS_BORDER | WS_TABSTOP, 70, 8, 182, 13, ID_URL, 0x81, L"");
    t_item(&t, SS_LEFT, 8, 32, 60, 10, 0xFFFF, 0x82, L"Token:");
    t_item(&t, ES_AUTOHSCROLL | ES_PASSWORD | WS_BORDER | WS_TABSTOP, 70, 30, 182, 13, ID_TOKEN, 0x81, L"");
    t_item(&t, BS_DEFPUSHBUTTON | WS_TABSTOP, 146, 68, 50, 16, IDOK, 0x80, L"OK");
    t_item(&t, BS_PUSHBUTTON | WS_TABSTOP, 202, 68, 50, 16, IDCANCEL, 0x80, L"Cancel");
    HMODULE self = NULL;
    GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                       (LPCWSTR)(void *)config_dialog, &self);
    INT_PTR r = DialogBoxIndirectParamW(self, (LPCDLGTEMPLATEW)t.buf, owner, dlg_proc, (LPARAM)&c);
    if (r == IDOK) return registry_write(c.url, c.token);
    if (r == -1) tsp_log("TUISPI_providerConfig: the dialog could not be created (error %lu)", GetLastError());
    return LINEERR_OPERATIONFAILED; /* cancelled, or no dialog: nothing stored */
}

/* ---------- TUISPI (TAPI 2.0+) ---------- */

LONG TSPIAPI TUISPI_providerInstall(TUISPIDLLCALLBACK lpfnUIDLLCallback, HWND hwndOwner, DWORD dwPermanentProviderID)
{
    (void)lpfnUIDLLCallback; (void)hwndOwner; (void)dwPermanentProviderID;
    char url[512], tok[512];
    tsp_global_init();
    tsp_registry_read(url, sizeof url, tok, sizeof tok);
    if (url[0]) return 0; /* keep an existing configuration */
    char env[512] = "", envtok[512] = "";
    GetEnvironmentVariableA("RO_TSP_BRIDGE", env, sizeof env);
    GetEnvironmentVariableA("RO_TSP_TOKEN", envtok, sizeof envtok);
    return registry_write(env[0] ? env : DEFAULT_URL, envtok);
}

LONG TSPIAPI TUISPI_providerConfig(TUISPIDLLCALLBACK lpfnUIDLLCallback, HWND hwndOwner, DWORD dwPermanentProviderID)
{
    (void)lpfnUIDLLCallback; (void)dwPermanentProviderID;
    tsp_global_init();
    return config_dialog(hwndOwner);
}

LONG TSPIAPI TUISPI_providerRemove(TUISPIDLLCALLBACK lpfnUIDLLCallback, HWND hwndOwner, DWORD dwPermanentProviderID)
{
    (void)lpfnUIDLLCallback; (void)hwndOwner; (void)dwPermanentProviderID;
    LONG rc = RegDeleteKeyA(HKEY_CURRENT_USER, REG_PATH);
    return rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND ? 0 : LINEERR_OPERATIONFAILED;
}

LONG TSPIAPI TUISPI_lineConfigDialog(TUISPIDLLCALLBACK lpfnUIDLLCallback, DWORD dwDeviceID, HWND hwndOwner,
                                     LPCWSTR lpszDeviceClass)
{
    (void)lpfnUIDLLCallback; (void)dwDeviceID; (void)lpszDeviceClass;
    tsp_global_init();
    return config_dialog(hwndOwner); /* one configuration for every line: the bridge */
}

/* ---------- TSPI side ---------- */

/* The UI DLL is this DLL (Microsoft: TSPI_providerUIIdentify,
   https://learn.microsoft.com/en-us/windows/win32/api/tspi/nf-tspi-tspi_provideruiidentify); the buffer holds
   MAX_PATH characters. */
LONG TSPIAPI TSPI_providerUIIdentify(LPWSTR lpszUIDLLName)
{
    HMODULE self = NULL;
    if (!lpszUIDLLName) return LINEERR_INVALPOINTER;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)(void *)TSPI_providerUIIdentify, &self))
        return LINEERR_OPERATIONFAILED;
    DWORD n = GetModuleFileNameW(self, lpszUIDLLName, MAX_PATH);
    return n == 0 || n >= MAX_PATH ? LINEERR_OPERATIONFAILED : 0;
}

/* TAPI 1.x entry points: TAPI 2.x calls the TUISPI ones instead, but a TSP still exports these; they succeed
   without UI (the registry defaults are written by TUISPI_providerInstall). */
LONG TSPIAPI TSPI_providerInstall(HWND hwndOwner, DWORD dwPermanentProviderID)
{
    (void)hwndOwner; (void)dwPermanentProviderID;
    return 0;
}
LONG TSPIAPI TSPI_providerRemove(HWND hwndOwner, DWORD dwPermanentProviderID)
{
    (void)hwndOwner; (void)dwPermanentProviderID;
    return 0;
}
LONG TSPIAPI TSPI_providerConfig(HWND hwndOwner, DWORD dwPermanentProviderID)
{
    (void)hwndOwner; (void)dwPermanentProviderID;
    return 0;
}
