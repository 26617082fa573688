/* mask.c - masked personal data (see mask.h). The back office needs to tell
 * buyers apart at a glance, not to know who they are. */
#include <stdbool.h>
#include <string.h>

#include "rules/mask.h"

#define MAX_STARS 8

/* Bytes in the UTF-8 character starting with lead byte c. */
static size_t char_bytes(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xF0)
        return 4;
    if (c >= 0xE0)
        return 3;
    return 2;
}

void lg_mask_name(const char *name, char *out, size_t outsz)
{
    if (outsz == 0)
        return;
    out[0] = 0;
    size_t len = strlen(name);
    if (len == 0)
        return;
    size_t first = char_bytes((unsigned char)name[0]);
    if (first > len)
        first = len;
    size_t rest = 0;
    for (size_t i = first; i < len; i += char_bytes((unsigned char)name[i]))
        rest++;
    size_t o = 0;
    if (rest == 0) {
        /* A one-character name shown whole would be the full name. */
        if (outsz > 1)
            out[o++] = '*';
        out[o] = 0;
        return;
    }
    if (first + 1 > outsz)
        return;
    memcpy(out, name, first);
    o = first;
    for (size_t i = 0; i < rest && i < MAX_STARS && o + 1 < outsz; i++)
        out[o++] = '*';
    out[o] = 0;
}

void lg_mask_phone(const char *phone, char *out, size_t outsz)
{
    if (outsz == 0)
        return;
    size_t len = strlen(phone);
    bool digits = len == 11;
    for (size_t i = 0; digits && i < len; i++)
        digits = phone[i] >= '0' && phone[i] <= '9';
    const char *masked = "****";
    char buf[12];
    if (digits) {
        memcpy(buf, phone, 3);
        memcpy(buf + 3, "****", 4);
        memcpy(buf + 7, phone + 7, 4);
        buf[11] = 0;
        masked = buf;
    }
    size_t n = strlen(masked);
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, masked, n);
    out[n] = 0;
}

/* One character then only stars, or "*". */
bool lg_mask_is_masked_name(const char *text)
{
    if (strcmp(text, "*") == 0)
        return true;
    if (!text[0])
        return false;
    size_t first = char_bytes((unsigned char)text[0]);
    if (strlen(text) <= first)
        return false;
    for (const char *p = text + first; *p; p++)
        if (*p != '*')
            return false;
    return true;
}

/* Three digits, four stars, four digits, or "****". */
bool lg_mask_is_masked_phone(const char *text)
{
    if (strcmp(text, "****") == 0)
        return true;
    if (strlen(text) != 11)
        return false;
    for (int i = 0; i < 11; i++) {
        bool star = i >= 3 && i < 7;
        if (star ? text[i] != '*' : (text[i] < '0' || text[i] > '9'))
            return false;
    }
    return true;
}
