/* mask.h - masked copies of personal data for the back office and logs:
 * "张三" -> "张*", "13800138000" -> "138****8000". */
#ifndef LG_RULES_MASK_H
#define LG_RULES_MASK_H

#include <stdbool.h>
#include <stddef.h>

/* Keeps the first character and replaces each other one with '*'; a
 * one-character name becomes "*". At most 8 stars are written. Always
 * NUL-terminates out when outsz > 0. */
void lg_mask_name(const char *name, char *out, size_t outsz);

/* Keeps the first 3 and last 4 digits of an 11-digit number; anything else
 * becomes "****". Always NUL-terminates out when outsz > 0. */
void lg_mask_phone(const char *phone, char *out, size_t outsz);

/* True when text has the shape lg_mask_name / lg_mask_phone produce, so a
 * value from Redis or the bus can be shown to the back office as it is. */
bool lg_mask_is_masked_name(const char *text);
bool lg_mask_is_masked_phone(const char *text);

#endif
