/* Renders a job's libvirt domain from the templates in xml-templates/, escaping every value. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	const gchar *name;        /* ucloud-<jobid>-<rank> */
	const gchar *title;       /* one line for `virsh list --title` */
	const gchar *domain_type; /* kvm | qemu */
	guint vcpus;
	guint64 memory_mib;
	const gchar *disk_path;   /* the job's overlay */
	const gchar *disk_format; /* qcow2 */
	const gchar *console_log; /* serial console log file (append) */
	const gchar *vnc_socket;  /* unix socket path for VNC */
	const gchar *network;     /* libvirt network name; NULL or "" = no NIC */
	const gchar *seed_path;   /* cloud-init NoCloud seed ISO; NULL = none */
	/* host PCI devices (GPUs) passed through, NULL-terminated "0000:3b:00.0"; NULL = none */
	const gchar *const *gpu_devices;
	/* <metadata> */
	const gchar *job_id;
	guint rank;
	const gchar *owner;
	const gchar *project; /* may be NULL */
	const gchar *product;
	const gchar *application; /* "name@version" */
	/* A container host (DOCKER jobs) when `kernel` is set: it boots kernel and initrd directly,
	 * disk_path is the image (erofs, shared read-only, never relabelled), config_file reaches
	 * the agent through fw_cfg, agent_socket is the host end of its control channel and
	 * share_dir the job's folders (virtiofs). disk_format, vnc_socket, seed_path and
	 * gpu_devices are not used. */
	const gchar *kernel;
	const gchar *initrd;
	const gchar *config_file;
	const gchar *agent_socket;
	const gchar *share_dir;
	const gchar *image_digest; /* metadata: which cached image the machine reads */
} UcvDomainSpec;

/* The namespace URI of the provider's <metadata> element. */
#define UCV_DOMAIN_METADATA_URI "https://ucloud.dk/ucloud-virt/1"

gchar *ucv_domain_xml_render(const UcvDomainSpec *spec, GError **error);

/* ucloud-<job_id>-<rank>; job ids are validated by the engine before this is used. */
gchar *ucv_domain_name_for(const gchar *job_id, guint rank);

G_END_DECLS
