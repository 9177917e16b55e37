/* Parses the provider's <metadata> element of a domain: the job id, rank and GPU devices. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* xml is the element as virDomainGetMetadata() returns it, with or without a prefix.
 * *gpu_devices (optional) gets the PCI addresses the domain was given, possibly none. */
gboolean ucv_domain_metadata_parse(const gchar *xml, gchar **job_id, guint *rank,
				   GStrv *gpu_devices, GError **error);

G_END_DECLS
