/* What the host and the agent agree on besides the frames: where the container's config, its
 * image, its scratch disk and the job's folders are found inside the container-host VM. Plain C:
 * the static agent and the host share it. */
#pragma once

/* fw_cfg entry holding the container's OCI runtime config.json */
#define UCV_AGENT_FWCFG_NAME "opt/ucloud/config.json"

/* virtio disk serials: the image (erofs, read-only) and the optional scratch disk (ext4) */
#define UCV_AGENT_IMAGE_SERIAL   "ucv-image"
#define UCV_AGENT_SCRATCH_SERIAL "ucv-scratch"

/* The job's folders: the host shares one directory by virtiofs under this tag, mounted at
 * UCV_AGENT_SHARE_DIR; the container's config binds entries of it (e.g. "work" onto /work). */
#define UCV_AGENT_SHARE_TAG "ucv-job"
#define UCV_AGENT_SHARE_DIR "/run/ucv/job"
