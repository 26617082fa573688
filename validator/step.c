/* step.c - the steps of a cycle (see internal.h). A step counts the Redis
 * replies it still waits for; the last one calls the step's "after"
 * function. The count starts at one and lgv_step_end drops that hold, so a
 * reply that arrives while the step is still sending cannot end it early,
 * and a step that sent nothing ends at once. */
#include "internal.h"

void lgv_step_reply(struct lg_validator *v)
{
    if (--v->pending == 0)
        v->after(v);
}

void lgv_step_begin(struct lg_validator *v, void (*after)(struct lg_validator *))
{
    v->pending = 1; /* held until lgv_step_end, so no reply can finish the step early */
    v->after = after;
}

void lgv_step_end(struct lg_validator *v)
{
    lgv_step_reply(v);
}

int lgv_step_send(struct lg_validator *v, lg_redis_reply_fn fn, void *arg, int argc,
                  const char **argv)
{
    v->pending++;
    if (lg_redis_argv(v->redis, fn, arg, argc, argv, NULL) == 0)
        return 0;
    v->pending--;
    return -1;
}

int lgv_step_script(struct lg_validator *v, struct lg_script *script, lg_redis_reply_fn fn,
                    void *arg, int nkeys, int nargs, const char **args, const size_t *lens)
{
    v->pending++;
    if (lg_script_call(v->redis, script, fn, arg, nkeys, nargs, args, lens) == 0)
        return 0;
    v->pending--;
    return -1;
}

/* A failed trim is retried on the next round, a failed acknowledgement
 * leaves the entry pending and the claim path re-sends its stored result. */
void lgv_step_counted(redisReply *reply, void *arg)
{
    (void)reply;
    lgv_step_reply(arg);
}
