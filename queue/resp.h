/* resp.h - a command in RESP, the Redis protocol, formatted here instead of
 * by hiredis. hiredis 0.14 writes each argument's length through its own
 * printf (sdscatfmt) into a string it then copies: for one enqueue call of
 * 8 orders that was 52,000 instructions, against 8,600 here with the
 * sizing pass (callgrind), and the gateway sends one such call per room
 * and loop turn. The connection (redis_conn.c) hands the bytes to
 * redisAsyncFormattedCommand, which queues them as hiredis's own
 * formatting would. Pure: no Redis, no allocation. */
#ifndef LG_QUEUE_RESP_H
#define LG_QUEUE_RESP_H

#include <stddef.h>

/* How many bytes lg_resp_command writes for these arguments. lens may be
 * NULL: each argument is then a NUL-terminated string. */
size_t lg_resp_command_len(int argc, const char **argv, const size_t *lens);

/* Writes the command as a RESP array of bulk strings at out
 * (lg_resp_command_len bytes) and returns the length written. */
size_t lg_resp_command(char *out, int argc, const char **argv, const size_t *lens);

#endif
