/* What the engine knows of one domain that carries the provider's metadata. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One domain that carries the provider's metadata. */
typedef struct {
	gchar *name;
	gchar *job_id;
	guint rank;
	gboolean active;
	gboolean has_managed_save;
	GStrv gpu_devices; /* PCI addresses from the metadata; NULL when it is unreadable */
} UcvDomainInfo;

void ucv_domain_info_free(UcvDomainInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvDomainInfo, ucv_domain_info_free)

G_END_DECLS
