/* How a managed save is written: plain, or through parallel channels where libvirt can. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-save-params.h"

/* The names libvirt 11.2 gives these parameters; spelled out, since this builds against older
 * headers and decides at run time. */
#define SAVE_PARAM_IMAGE_FORMAT      "image_format"
#define SAVE_PARAM_PARALLEL_CHANNELS "parallel.channels"

guint
ucv_save_parallel_channels(gulong libvirt_version, guint host_cpus)
{
	if (libvirt_version < UCV_PARALLEL_SAVE_MIN_VERSION)
		return 0;
	return CLAMP(host_cpus / 2, 2, 4);
}

static guint
channels_for(virConnectPtr conn)
{
	unsigned long version = 0;
	virNodeInfo node = {0};

	/* for a remote connection this is the daemon's version, which is what counts */
	if (virConnectGetLibVersion(conn, &version) < 0 || virNodeGetInfo(conn, &node) < 0)
		return 0;
	return ucv_save_parallel_channels(version, node.cpus);
}

int
ucv_save_managed(virConnectPtr conn, virDomainPtr dom, guint flags)
{
	guint channels = channels_for(conn);
	virTypedParameterPtr params = NULL;
	int n_params = 0;
	int max_params = 0;
	int rc;

	if (channels == 0)
		return virDomainManagedSave(dom, flags);
	if (virTypedParamsAddString(&params, &n_params, &max_params, SAVE_PARAM_IMAGE_FORMAT,
				    "sparse") < 0 ||
	    virTypedParamsAddInt(&params, &n_params, &max_params, SAVE_PARAM_PARALLEL_CHANNELS,
				 (int)channels) < 0) {
		virTypedParamsFree(params, n_params);
		return -1;
	}
	g_debug("saving %s through %u parallel channels", virDomainGetName(dom), channels);
	rc = virDomainSaveParams(dom, params, n_params, flags);
	virTypedParamsFree(params, n_params);
	return rc;
}
