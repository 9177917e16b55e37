/* Image references as tools name them, normalised as Docker does; anything else refused. */
#include "config.h"

#include "container/ucv-image-ref.h"
#include "model/ucv-error.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
assert_ref(const gchar *image, const gchar *registry, const gchar *repository, const gchar *tag,
	   const gchar *digest)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvImageRef) ref = ucv_image_ref_parse(image, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(ref->registry, ==, registry);
	g_assert_cmpstr(ref->repository, ==, repository);
	g_assert_cmpstr(ref->tag, ==, tag);
	g_assert_cmpstr(ref->digest, ==, digest);
}

static void
test_normalised(void)
{
	assert_ref("debian", UCV_IMAGE_REF_DEFAULT_REGISTRY, "library/debian", "latest", NULL);
	assert_ref("acme/batch:1.0.0", UCV_IMAGE_REF_DEFAULT_REGISTRY, "acme/batch", "1.0.0", NULL);
	assert_ref("127.0.0.1:5000/acme/batch:1.0", "127.0.0.1:5000", "acme/batch", "1.0", NULL);
	assert_ref("127.0.0.1:5000/acme/batch", "127.0.0.1:5000", "acme/batch", "latest", NULL);
	assert_ref("localhost/x", "localhost", "x", "latest", NULL);
	assert_ref("dreg.cloud.sdu.dk/ucloud-apps/jupyter-all-spark:4.1.5", "dreg.cloud.sdu.dk",
		   "ucloud-apps/jupyter-all-spark", "4.1.5", NULL);
	assert_ref("acme/batch@" DIGEST, UCV_IMAGE_REF_DEFAULT_REGISTRY, "acme/batch", NULL,
		   DIGEST);
	assert_ref("acme/batch:1.0@" DIGEST, UCV_IMAGE_REF_DEFAULT_REGISTRY, "acme/batch", NULL,
		   DIGEST);
	assert_ref("a__b/c---d.e_f:T_1.2-x", UCV_IMAGE_REF_DEFAULT_REGISTRY, "a__b/c---d.e_f",
		   "T_1.2-x", NULL);
}

/* They become URLs and file names: nothing else gets through. */
static void
test_refused(void)
{
	const gchar *bad[] = {
		"",
		"Debian",
		"acme/../etc",
		"acme//batch",
		"/acme/batch",
		"acme/batch/",
		"acme/batch:",
		"acme/batch:.x",
		"acme/batch@sha256:short",
		"acme/batch@md5:0123456789abcdef0123456789abcdef",
		"acme/batch@" DIGEST "x",
		"acme/ba tch",
		"host:99999999/x",
		"host:/x",
		"acme/batch?x=1",
		"acme/batch#x",
		"acme/batch:%2e%2e",
		"acme/\xc3\xa6",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UcvImageRef) ref = ucv_image_ref_parse(bad[i], &error);

		if (ref != NULL)
			g_error("\"%s\" was taken for %s/%s", bad[i], ref->registry,
				ref->repository);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	}
}

static void
test_to_string(void)
{
	g_autoptr(UcvImageRef) tagged = ucv_image_ref_parse("acme/batch:1.0.0", NULL);
	g_autoptr(UcvImageRef) pinned = ucv_image_ref_parse("127.0.0.1:5000/a@" DIGEST, NULL);
	g_autofree gchar *tagged_text = ucv_image_ref_to_string(tagged);
	g_autofree gchar *pinned_text = ucv_image_ref_to_string(pinned);

	g_assert_cmpstr(tagged_text, ==, UCV_IMAGE_REF_DEFAULT_REGISTRY "/acme/batch:1.0.0");
	g_assert_cmpstr(pinned_text, ==, "127.0.0.1:5000/a@" DIGEST);
	g_assert_cmpstr(ucv_image_ref_get_reference(pinned), ==, DIGEST);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/image-ref/normalised", test_normalised);
	g_test_add_func("/image-ref/refused", test_refused);
	g_test_add_func("/image-ref/to-string", test_to_string);
	return g_test_run();
}
