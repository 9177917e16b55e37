/* Parses the provider's <metadata> element of a domain: the job id and rank. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* xml is the element as virDomainGetMetadata() returns it, with or without a prefix. */
gboolean ucv_domain_metadata_parse(const gchar *xml, gchar **job_id, guint *rank, GError **error);

G_END_DECLS
