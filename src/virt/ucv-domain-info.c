/* What the engine knows of one domain that carries the provider's metadata. */
#include "config.h"

#include "ucv-domain-info.h"

void
ucv_domain_info_free(UcvDomainInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->name);
	g_free(info->job_id);
	g_strfreev(info->gpu_devices);
	g_free(info);
}
