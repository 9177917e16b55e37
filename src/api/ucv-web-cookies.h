/* The cookie jar of the app hosts: cookies issued, checked and voided with their job. */
#pragma once

#include <libsoup/soup.h>

#include "api/ucv-web-app.h"

G_BEGIN_DECLS

typedef struct _UcvWebCookies UcvWebCookies;

UcvWebCookies *ucv_web_cookies_new(void);
void ucv_web_cookies_free(UcvWebCookies *jar);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWebCookies, ucv_web_cookies_free)

/* A fresh cookie value admitting to `job_id`'s rank, remembered only as its hash. */
gchar *ucv_web_cookies_issue(UcvWebCookies *jar, const gchar *job_id, guint rank, GError **error);
/* Checks and removes our cookie from the (copied) Cookie headers. The job id of the first of our
 * cookies that admits to `app`, or NULL. */
gchar *ucv_web_cookies_take(UcvWebCookies *jar, SoupMessageHeaders *headers, const UcvWebApp *app);
/* Every cookie of the job no longer admits. */
void ucv_web_cookies_revoke_job(UcvWebCookies *jar, const gchar *job_id);

G_END_DECLS
