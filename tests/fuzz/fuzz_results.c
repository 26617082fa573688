/* fuzz_results.c - libFuzzer target for the decoding of Redis replies into
 * what the gateway acts on: above all the reply-stream reader of
 * features/results.c (XREAD's answer -> entries -> results -> the buyer's
 * order.confirmed, order.rejected or order.status), and the back office's readers of
 * transition.lua's answer and of the audit stream (rules/backoffice_rules.c).
 *
 * The input is RESP, the bytes Redis sends; hiredis's own reader turns them
 * into the redisReply trees that hiredis hands the callbacks, so every shape
 * Redis could send (and many it never would) reaches the decoders.
 *
 * results.c keeps its decoding in static functions behind the connection's
 * callback, so it is compiled into this file (and the copy in lg_gateway is
 * then never linked). Its calls into the session layer are renamed to the
 * fuzz_ functions below before the include: they stand for one connected
 * buyer whose every result is recorded, so the test sees what would be sent; the call
 * that builds a result's message is wrapped to note the status it came from. */
#include <hiredis/hiredis.h>
#include <string.h>

#include "fuzz.h"

#define lg_session_find_user fuzz_find_user
#define lg_session_user_next fuzz_user_next
#define lg_session_hold_result fuzz_hold_result
#define lg_session_send_frame fuzz_send_frame
#define lg_result_as_decided fuzz_as_decided
#include "features/results.c"
#undef lg_session_find_user
#undef lg_session_user_next
#undef lg_session_hold_result
#undef lg_session_send_frame
#undef lg_result_as_decided
bool lg_result_as_decided(const struct lg_result *r);

#include "rules/backoffice_rules.h"

/* The one buyer's session; only its address is used. */
static char buyer_session;
/* The stored status of the result whose message is being sent. */
/* (a copy, whole: a status of any length must compare equal to itself) */
static char *result_status;
/* The order ids sent to the buyer during one input. */
static struct lg_strmap *sent;

/* Asked once for each result's frame: the real answer, noting the status
 * the frame is made of. */
bool fuzz_as_decided(const struct lg_result *r)
{
    free(result_status);
    result_status = strdup(r->status);
    FUZZ_CHECK(result_status != NULL);
    return lg_result_as_decided(r);
}

struct lg_session *fuzz_find_user(struct lg_gateway *gw, const char *room, const char *user)
{
    (void)gw;
    FUZZ_CHECK(room != NULL && user != NULL);
    return (struct lg_session *)&buyer_session;
}

struct lg_session *fuzz_user_next(const struct lg_session *s)
{
    (void)s;
    return NULL;
}

bool fuzz_hold_result(struct lg_session *s, const char *order_id, struct lg_frame *f)
{
    (void)s;
    (void)order_id;
    (void)f;
    return false;
}

/* What would be sent: the frame's text, which must be one JSON object
 * (the result builders write it as text). The frame stays the caller's. */
void fuzz_send_frame(struct lg_session *s, struct lg_frame *f)
{
    FUZZ_CHECK(s == (struct lg_session *)&buyer_session);
    if (f) {
        json_t *msg = json_loadb((const char *)lg_frame_payload(f), f->len, 0, NULL);
        FUZZ_CHECK(json_is_object(msg));
        const char *type = json_string_value(json_object_get(msg, "type"));
        const char *order_id = json_string_value(json_object_get(msg, "order_id"));
        /* A result states the order's real state: confirmed only while it
         * waits for payment, a later state (a resend after the order moved
         * on) as order.status with that state. */
        FUZZ_CHECK(type != NULL);
        if (strcmp(result_status, "rejected") == 0)
            FUZZ_CHECK(strcmp(type, "order.rejected") == 0);
        else if (strcmp(result_status, "pending_payment") == 0)
            FUZZ_CHECK(strcmp(type, "order.confirmed") == 0);
        else
            FUZZ_CHECK(strcmp(type, "order.status") == 0 &&
                       strcmp(json_string_value(json_object_get(msg, "status")), result_status) ==
                           0);
        /* handle_result drops a result without an order id or a status. */
        FUZZ_CHECK(order_id && order_id[0]);
        /* The stream can repeat a result (a validator's crash and resend);
         * the buyer is told once. */
        FUZZ_CHECK(lg_strmap_get(sent, order_id) == NULL);
        lg_strmap_put(sent, order_id, &buyer_session);
        json_decref(msg);
    }
}

static struct lg_gateway gw;
static struct lg_results reader;

/* The reader as lg_results_new leaves it, its connection never started:
 * a command sent on it (the next read, a trim) is refused at once, so
 * on_read only decodes. */
static void setup(void)
{
    lg_log_init("fuzz_results", LG_LOG_ERROR + 1);
    gw.sessions_by_user = lg_strmap_new();
    reader.gw = &gw;
    reader.conn = lg_redis_new(uv_default_loop(), &gw.cfg.redis, "fuzz_results", 1000);
    reader.ring = calloc(SEEN_RING, sizeof(*reader.ring));
    reader.seen = lg_strmap_new();
    FUZZ_CHECK(gw.sessions_by_user && reader.conn && reader.ring && reader.seen);
    gw.results = &reader;
}

/* Each input starts with nothing seen, so a result is judged by the input
 * alone (and a crash found replays from its input). */
static void forget_seen(void)
{
    for (size_t i = 0; i < reader.ring_pos; i++) {
        lg_strmap_del(reader.seen, reader.ring[i]);
        reader.ring[i][0] = 0;
    }
    reader.ring_pos = 0;
    lg_strmap_free(sent);
    sent = NULL;
}

static void backoffice_replies(const redisReply *reply)
{
    struct lg_transition t = {.order_id = "o-1", .room = "room-1"};
    if (lg_backoffice_read_transition(reply, &t) == LG_TRANSITION_OK) {
        FUZZ_CHECK(t.from && t.to && t.user && t.client_order_id && t.sku_id && t.priority &&
                   t.buyer && t.phone);
        json_decref(lg_backoffice_status_event(&t));
    }
    json_t *audit = lg_backoffice_audit_entries(reply);
    if (audit) {
        char *text = json_dumps(audit, JSON_COMPACT);
        FUZZ_CHECK(text != NULL);
        free(text);
        json_decref(audit);
    }
}

/* hiredis allocates an array's element table as soon as it reads its
 * count: a count of a billion is an allocation the fuzzer would report as
 * out of memory, a fact about hiredis rather than about the decoders. */
static bool has_huge_array(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '*')
            continue;
        size_t digits = 0;
        while (i + 1 + digits < size && data[i + 1 + digits] >= '0' && data[i + 1 + digits] <= '9')
            digits++;
        if (digits > 5)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reader.ring)
        setup();
    if (has_huge_array(data, size))
        return 0;
    sent = lg_strmap_new();
    FUZZ_CHECK(sent != NULL);
    redisReader *rr = redisReaderCreate();
    FUZZ_CHECK(rr != NULL);
    if (redisReaderFeed(rr, (const char *)data, size) == REDIS_OK) {
        void *reply = NULL;
        while (redisReaderGetReply(rr, &reply) == REDIS_OK && reply) {
            on_read(reply, &reader);
            backoffice_replies(reply);
            freeReplyObject(reply);
            reply = NULL;
        }
    }
    redisReaderFree(rr);
    forget_seen();
    return 0;
}
