/* resp_reply.h - a redisReply from RESP bytes, built by hiredis's own
 * reader as a reply arrives from Redis: for the unit tests of the code
 * that decodes replies. Include after cmocka.h. The caller frees the
 * reply (freeReplyObject). */
#ifndef LG_TEST_RESP_REPLY_H
#define LG_TEST_RESP_REPLY_H

#include <hiredis/hiredis.h>

static inline redisReply *lg_test_reply(const char *resp, size_t len)
{
    redisReader *rr = redisReaderCreate();
    void *reply = NULL;
    assert_int_equal(redisReaderFeed(rr, resp, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rr, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(rr);
    return reply;
}

#endif
