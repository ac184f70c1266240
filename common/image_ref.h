#ifndef BW_IMAGE_REF_H
#define BW_IMAGE_REF_H

#include <stddef.h>

#define IMAGE_NAME_MAX	255	/* [domain/]path, as in the distribution spec */
#define IMAGE_TAG_MAX	128

/*
 * An image a stage may name: a reference to a registry or to the local
 * store, never a podman transport ("dir:", "oci-archive:", ...), which
 * would make podman read paths on the worker and ignore the pull policy.
 * 0, or -1 with err saying what is wrong (err may be NULL).  Called by
 * the API at upload and run start; the worker can call it before podman.
 */
int	 image_ref_valid(const char *ref, char *err, size_t errlen);

#endif
