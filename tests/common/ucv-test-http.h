/* Sending one HTTP request from a test and waiting for the whole answer. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Sends `msg` on `session`, runs the loop until the whole body is read and returns it as text
 * ("" when empty); a transport error fails the test. */
gchar *ucv_test_http_send(SoupSession *session, SoupMessage *msg);

G_END_DECLS
