/* Unit test of the reply-stream decoding in features/results.c: XREAD's
 * answer to results, packed as reply.lua writes them, and the entries of
 * earlier releases (a field per value, with or without the header ("n",
 * n)). The decoding is static behind the connection's callback, so the
 * file is compiled in here (its copy in lg_gateway is then not linked) with
 * its calls into the session layer renamed to the one_buyer_ functions
 * below, which stand for one connected buyer; the replies are built by
 * hiredis's reader from RESP, as they would arrive from Redis. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <string.h>
#include <unistd.h>

#define lg_session_find_user one_buyer_find_user
#define lg_session_user_next one_buyer_user_next
#define lg_session_hold_result one_buyer_hold_result
#define lg_session_send_frame one_buyer_send_frame
#include "features/results.c"
#include "resp_reply.h"

static char buyer;
static int n_sent;
static char last_order_id[LG_ID_MAX + 1];

struct lg_session *one_buyer_find_user(struct lg_gateway *gw, const char *room, const char *user)
{
    (void)gw;
    (void)room;
    (void)user;
    return (struct lg_session *)&buyer;
}

struct lg_session *one_buyer_user_next(const struct lg_session *s)
{
    (void)s;
    return NULL;
}

bool one_buyer_hold_result(struct lg_session *s, const char *order_id, struct lg_frame *f)
{
    (void)s;
    (void)order_id;
    (void)f;
    return false;
}

/* Takes no reference, as lg_session_send_frame: the frame stays the
 * caller's. Its text must be JSON naming the order. */
void one_buyer_send_frame(struct lg_session *s, struct lg_frame *f)
{
    (void)s;
    assert_non_null(f);
    json_t *msg = json_loadb((const char *)lg_frame_payload(f), f->len, 0, NULL);
    assert_non_null(msg);
    n_sent++;
    snprintf(last_order_id, sizeof(last_order_id), "%s",
             json_string_value(json_object_get(msg, "order_id")));
    json_decref(msg);
}

static struct lg_gateway gw;
static struct lg_results reader;
/* The reader's connection, never started: what on_read sends on it (the
 * next read, a trim) is refused at once. One for all the tests. */
static struct lg_redis *conn;

static int setup(void **state)
{
    (void)state;
    lg_log_init("test_results_entries", LG_LOG_ERROR);
    memset(&gw, 0, sizeof(gw));
    memset(&reader, 0, sizeof(reader));
    if (!conn)
        conn = lg_redis_new(uv_default_loop(), &gw.cfg.redis, "test_results_entries", 1000);
    reader.gw = &gw;
    reader.conn = conn;
    reader.ring = calloc(SEEN_RING, sizeof(*reader.ring));
    reader.seen = lg_strmap_new();
    gw.results = &reader;
    n_sent = 0;
    last_order_id[0] = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(reader.ring);
    lg_strmap_free(reader.seen);
    return 0;
}

/* Feeds one RESP reply to the reader's XREAD callback. */
static void read_reply(const char *resp)
{
    redisReply *reply = lg_test_reply(resp, strlen(resp));
    on_read(reply, &reader);
    freeReplyObject(reply);
}

/* [[key, [[id, fields]]]] around the fields' RESP. */
#define XREAD(nfields, fields)                                                                     \
    "*1\r\n*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*" #nfields "\r\n" fields
#define F_ORDER(id) "$8\r\norder_id\r\n$3\r\n" id "\r\n"
#define F_STATUS "$6\r\nstatus\r\n$15\r\npending_payment\r\n"

static void a_batch_of_two(void **state)
{
    (void)state;
    read_reply(XREAD(10, "$1\r\nn\r\n$1\r\n2\r\n" F_ORDER("o-1") F_STATUS F_ORDER("o-2") F_STATUS));
    assert_int_equal(n_sent, 2);
    assert_string_equal(last_order_id, "o-2");
    assert_int_equal(gw.counters[LG_CTR_RESULTS_IN], 2);
}

static void an_entry_without_header_is_one_result(void **state)
{
    (void)state;
    read_reply(XREAD(4, F_ORDER("o-1") F_STATUS));
    assert_int_equal(n_sent, 1);
}

/* The same order twice (a validator resent it): the buyer hears it once. */
static void a_repeat_is_delivered_once(void **state)
{
    (void)state;
    read_reply(XREAD(4, F_ORDER("o-1") F_STATUS));
    read_reply(XREAD(4, F_ORDER("o-1") F_STATUS));
    assert_int_equal(n_sent, 1);
    assert_int_equal(gw.counters[LG_CTR_RESULTS_REPEATED], 1);
}

/* Fields that do not divide into n results are not an entry livegate wrote. */
static void uneven_batches_are_dropped(void **state)
{
    (void)state;
    read_reply(XREAD(8, "$1\r\nn\r\n$1\r\n2\r\n" F_ORDER("o-1") F_STATUS "$1\r\nx\r\n$1\r\ny\r\n"));
    read_reply(XREAD(6, "$1\r\nn\r\n$1\r\n0\r\n" F_ORDER("o-1") F_STATUS));
    read_reply(XREAD(6, "$1\r\nn\r\n$2\r\n-1\r\n" F_ORDER("o-1") F_STATUS));
    assert_int_equal(n_sent, 0);
    assert_int_equal(gw.counters[LG_CTR_RESULTS_IN], 0);
}

/* Found by fuzz_results: a header announcing results in an entry with no
 * other fields ran the decoding loop n times, for any n up to 2^63 - 1: the
 * event loop froze. It is now a bad entry, dropped at once (the alarm fails
 * the test if not), and the reader goes on with the next entries. */
static void a_header_without_results(void **state)
{
    (void)state;
    alarm(10);
    read_reply(XREAD(2, "$1\r\nn\r\n$13\r\n1000000000000\r\n"));
    read_reply(XREAD(2, "$1\r\nn\r\n$19\r\n9223372036854775807\r\n"));
    alarm(0);
    assert_int_equal(n_sent, 0);
    read_reply(XREAD(6, "$1\r\nn\r\n$1\r\n1\r\n" F_ORDER("o-3") F_STATUS));
    assert_int_equal(n_sent, 1);
}

/* reply.lua's entry: ("packed", n), ("results", the packed results). */
static void read_packed(const char *count, const char *const *order_ids, size_t n, size_t cut)
{
    struct lg_reply_pack p = {0};
    for (size_t i = 0; i < n; i++) {
        const char *v[LG_REPLY_NFIELDS] = {0};
        v[LG_REPLY_ORDER_ID] = order_ids[i];
        v[LG_REPLY_STATUS] = "pending_payment";
        v[LG_REPLY_ROOM] = "r1";
        v[LG_REPLY_USER] = "u1";
        assert_int_equal(lg_reply_pack_add(&p, v), 0);
    }
    size_t len = p.len - cut;
    char head[256];
    int h = snprintf(head, sizeof(head),
                     "*1\r\n*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*4\r\n"
                     "$6\r\npacked\r\n$%zu\r\n%s\r\n$7\r\nresults\r\n$%zu\r\n",
                     strlen(count), count, len);
    char *resp = malloc((size_t)h + len + 2);
    memcpy(resp, head, (size_t)h);
    memcpy(resp + h, p.buf, len);
    memcpy(resp + h + len, "\r\n", 2);
    redisReply *reply = lg_test_reply(resp, (size_t)h + len + 2);
    on_read(reply, &reader);
    freeReplyObject(reply);
    free(resp);
    lg_reply_pack_free(&p);
}

static void a_packed_batch_of_three(void **state)
{
    (void)state;
    const char *ids[] = {"o-1", "o-2", "o-3"};
    read_packed("3", ids, 3, 0);
    assert_int_equal(n_sent, 3);
    assert_string_equal(last_order_id, "o-3");
    assert_int_equal(gw.counters[LG_CTR_RESULTS_IN], 3);
}

/* n must be the results there are, on both sides; a packed value cut
 * short is not an entry livegate wrote: none of its results is pushed. */
static void a_packed_entry_must_hold_n_results(void **state)
{
    (void)state;
    const char *ids[] = {"o-1", "o-2"};
    read_packed("3", ids, 2, 0);
    read_packed("1", ids, 2, 0);
    read_packed("0", ids, 2, 0);
    read_packed("2", ids, 2, 1);
    alarm(10);
    read_packed("9223372036854775807", ids, 2, 0);
    alarm(0);
    assert_int_equal(n_sent, 0);
    read_packed("2", ids, 2, 0);
    assert_int_equal(n_sent, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_batch_of_two, setup, teardown),
        cmocka_unit_test_setup_teardown(an_entry_without_header_is_one_result, setup, teardown),
        cmocka_unit_test_setup_teardown(a_repeat_is_delivered_once, setup, teardown),
        cmocka_unit_test_setup_teardown(uneven_batches_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(a_header_without_results, setup, teardown),
        cmocka_unit_test_setup_teardown(a_packed_batch_of_three, setup, teardown),
        cmocka_unit_test_setup_teardown(a_packed_entry_must_hold_n_results, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
