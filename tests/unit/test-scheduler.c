/* The scheduler's bookkeeping: order, backfill, release, capacity maths, GPUs, positions. */
#include "config.h"

#include "engine/ucv-scheduler.h"
#include "model/ucv-error.h"

/* What the scheduler announced, as "admitted:a", "position:b=1", "rejected:c" in order. */
typedef struct {
	UcvScheduler *scheduler;
	GPtrArray *events;
} Fixture;

static void
on_admitted(UcvScheduler *scheduler, const gchar *job_id, Fixture *f)
{
	g_ptr_array_add(f->events, g_strdup_printf("admitted:%s", job_id));
}

static void
on_position(UcvScheduler *scheduler, const gchar *job_id, guint ahead, Fixture *f)
{
	g_ptr_array_add(f->events, g_strdup_printf("position:%s=%u", job_id, ahead));
}

static void
on_rejected(UcvScheduler *scheduler, const gchar *job_id, const gchar *why, Fixture *f)
{
	g_assert_nonnull(why);
	g_ptr_array_add(f->events, g_strdup_printf("rejected:%s", job_id));
}

static void
fixture_use(Fixture *f, UcvScheduler *scheduler)
{
	f->scheduler = scheduler;
	f->events = g_ptr_array_new_with_free_func(g_free);
	g_signal_connect(scheduler, "admitted", G_CALLBACK(on_admitted), f);
	g_signal_connect(scheduler, "position-changed", G_CALLBACK(on_position), f);
	g_signal_connect(scheduler, "rejected", G_CALLBACK(on_rejected), f);
}

static void
fixture_clear(Fixture *f)
{
	g_clear_object(&f->scheduler);
	g_clear_pointer(&f->events, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Fixture, fixture_clear)

/* The events since the last call, joined with ',', then forgotten. */
static gchar *
take_events(Fixture *f)
{
	g_autofree gchar *joined = NULL;

	g_ptr_array_add(f->events, NULL);
	joined = g_strjoinv(",", (gchar **)f->events->pdata);
	g_ptr_array_set_size(f->events, 0);
	return g_steal_pointer(&joined);
}

#define assert_events(f, expected)                                                                 \
	G_STMT_START                                                                               \
	{                                                                                          \
		g_autofree gchar *_events = take_events(f);                                        \
		g_assert_cmpstr(_events, ==, expected);                                            \
	}                                                                                          \
	G_STMT_END

static UcvSchedulerResult
request(Fixture *f, const gchar *job_id, guint cpus, guint64 memory_mib, guint gpus, guint *ahead)
{
	return ucv_scheduler_request(f->scheduler, job_id, cpus, memory_mib, gpus, ahead);
}

/* Jobs start in arrival order; the queue moves up as jobs end. */
static void
test_order(void)
{
	g_auto(Fixture) f = {0};
	guint ahead = 99;

	fixture_use(&f, ucv_scheduler_new(0, 0, 1.0, 1.0, NULL));
	ucv_scheduler_set_host(f.scheduler, 4, 8192);
	g_assert_cmpint(request(&f, "a", 2, 4096, 0, NULL), ==, UCV_SCHEDULER_ADMITTED);
	g_assert_cmpint(request(&f, "b", 2, 4096, 0, NULL), ==, UCV_SCHEDULER_ADMITTED);
	g_assert_cmpint(request(&f, "c", 1, 2048, 0, &ahead), ==, UCV_SCHEDULER_QUEUED);
	g_assert_cmpuint(ahead, ==, 0);
	g_assert_cmpint(request(&f, "d", 1, 2048, 0, &ahead), ==, UCV_SCHEDULER_QUEUED);
	g_assert_cmpuint(ahead, ==, 1);
	assert_events(&f, "position:c=0,position:d=1");
	/* asking again changes nothing */
	g_assert_cmpint(request(&f, "d", 1, 2048, 0, &ahead), ==, UCV_SCHEDULER_QUEUED);
	g_assert_cmpint(request(&f, "a", 2, 4096, 0, NULL), ==, UCV_SCHEDULER_ADMITTED);
	assert_events(&f, "");
	g_assert_cmpuint(ucv_scheduler_get_n_running(f.scheduler), ==, 2);
	g_assert_cmpuint(ucv_scheduler_get_n_pending(f.scheduler), ==, 2);

	ucv_scheduler_release(f.scheduler, "a");
	assert_events(&f, "admitted:c,admitted:d");
	g_assert_true(ucv_scheduler_is_admitted(f.scheduler, "c"));
	g_assert_cmpint(ucv_scheduler_get_position(f.scheduler, "c"), ==, -1);
	g_assert_cmpuint(ucv_scheduler_get_n_pending(f.scheduler), ==, 0);
}

/* A later job passes a waiting one only beside everything the waiting one holds. */
static void
test_backfill(void)
{
	g_auto(Fixture) f = {0};
	const gchar *gpus[] = {"0000:3b:00.0", NULL};

	fixture_use(&f, ucv_scheduler_new(0, 0, 1.0, 1.0, gpus));
	ucv_scheduler_set_host(f.scheduler, 4, 4096);

	/* the head waits for CPUs and memory: nothing passes it */
	g_assert_cmpint(request(&f, "a", 2, 2048, 0, NULL), ==, UCV_SCHEDULER_ADMITTED);
	g_assert_cmpint(request(&f, "big", 4, 4096, 0, NULL), ==, UCV_SCHEDULER_QUEUED);
	g_assert_cmpint(request(&f, "small", 1, 1024, 0, NULL), ==, UCV_SCHEDULER_QUEUED);
	ucv_scheduler_release(f.scheduler, "a");
	assert_events(&f, "position:big=0,position:small=1,admitted:big,position:small=0");
	ucv_scheduler_release(f.scheduler, "big");
	assert_events(&f, "admitted:small");
	ucv_scheduler_release(f.scheduler, "small");

	/* the head waits only for the GPU: a CPU-only job fits beside its hold and starts */
	g_assert_cmpint(request(&f, "g1", 1, 1024, 1, NULL), ==, UCV_SCHEDULER_ADMITTED);
	g_assert_cmpint(request(&f, "g2", 1, 1024, 1, NULL), ==, UCV_SCHEDULER_QUEUED);
	g_assert_cmpint(request(&f, "cpu", 1, 1024, 0, NULL), ==, UCV_SCHEDULER_ADMITTED);
	/* but not one that would eat into what the head holds (1 CPU, 1 GiB) */
	g_assert_cmpint(request(&f, "wide", 3, 1024, 0, NULL), ==, UCV_SCHEDULER_QUEUED);
	assert_events(&f, "position:g2=0,position:wide=1");
	ucv_scheduler_release(f.scheduler, "g1");
	assert_events(&f, "admitted:g2,position:wide=0");
	ucv_scheduler_release(f.scheduler, "cpu");
	assert_events(&f, "admitted:wide");
}

/* Released resources return exactly; a queued job can leave the queue too. */
static void
test_release(void)
{
	g_auto(Fixture) f = {0};
	gdouble cpus = -1;
	guint64 memory = 1;
	guint gpus = 1;

	fixture_use(&f, ucv_scheduler_new(0, 0, 1.0, 1.0, NULL));
	ucv_scheduler_set_host(f.scheduler, 2, 2048);
	request(&f, "a", 2, 2048, 0, NULL);
	request(&f, "b", 1, 1024, 0, NULL);
	request(&f, "c", 1, 1024, 0, NULL);
	ucv_scheduler_get_used(f.scheduler, &cpus, &memory, &gpus);
	g_assert_cmpfloat(cpus, ==, 2);
	g_assert_cmpuint(memory, ==, 2048);
	g_assert_cmpuint(gpus, ==, 0);
	take_events(&f);

	/* b leaves the queue: c moves up */
	ucv_scheduler_release(f.scheduler, "b");
	assert_events(&f, "position:c=0");
	ucv_scheduler_release(f.scheduler, "a");
	assert_events(&f, "admitted:c");
	ucv_scheduler_release(f.scheduler, "c");
	ucv_scheduler_release(f.scheduler, "never-seen");
	ucv_scheduler_get_used(f.scheduler, &cpus, &memory, NULL);
	g_assert_cmpfloat(cpus, ==, 0);
	g_assert_cmpuint(memory, ==, 0);
	g_assert_cmpuint(ucv_scheduler_get_n_running(f.scheduler), ==, 0);
	assert_events(&f, "");
}

/* Capacity = (host - reserved) * overcommit; requests beyond it can never run. */
static void
test_capacity_maths(void)
{
	g_auto(Fixture) f = {0};
	g_autoptr(GError) error = NULL;
	gdouble cpus = 0;
	guint64 memory = 0;

	fixture_use(&f, ucv_scheduler_new(2, 1024, 2.0, 1.5, NULL));
	/* before the host is known: capacity 0, everything waits, nothing is refused */
	ucv_scheduler_get_capacity(f.scheduler, &cpus, &memory, NULL);
	g_assert_cmpfloat(cpus, ==, 0);
	g_assert_true(ucv_scheduler_fits_host(f.scheduler, 1000, 1, 0, NULL));
	g_assert_cmpint(request(&f, "early", 1, 1024, 0, NULL), ==, UCV_SCHEDULER_QUEUED);
	g_assert_cmpint(request(&f, "huge", 13, 1024, 0, NULL), ==, UCV_SCHEDULER_QUEUED);
	assert_events(&f, "");

	ucv_scheduler_set_host(f.scheduler, 8, 16384);
	assert_events(&f, "admitted:early,rejected:huge");
	ucv_scheduler_get_capacity(f.scheduler, &cpus, &memory, NULL);
	g_assert_cmpfloat_with_epsilon(cpus, 12.0, 1e-9);
	g_assert_cmpuint(memory, ==, 23040);
	g_assert_true(ucv_scheduler_fits_host(f.scheduler, 12, 23040, 0, NULL));
	g_assert_false(ucv_scheduler_fits_host(f.scheduler, 13, 1024, 0, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "vCPU"));
	g_clear_error(&error);
	g_assert_false(ucv_scheduler_fits_host(f.scheduler, 1, 23041, 0, &error));
	g_assert_nonnull(strstr(error->message, "23040 MiB"));
	g_clear_error(&error);
	g_assert_false(ucv_scheduler_fits_host(f.scheduler, 1, 1024, 1, &error));
	g_assert_nonnull(strstr(error->message, "GPU"));

	/* overcommitted: 12 one-vCPU jobs fit on 6 CPUs */
	for (guint i = 0; i < 11; i++) {
		g_autofree gchar *id = g_strdup_printf("j%u", i);
		g_assert_cmpint(request(&f, id, 1, 1024, 0, NULL), ==, UCV_SCHEDULER_ADMITTED);
	}
	g_assert_cmpint(request(&f, "j11", 1, 1024, 0, NULL), ==, UCV_SCHEDULER_QUEUED);
}

/* Claims (jobs found running after a restart) hold resources before anything waiting starts. */
static void
test_claim(void)
{
	g_auto(Fixture) f = {0};

	fixture_use(&f, ucv_scheduler_new(0, 0, 1.0, 1.0, NULL));
	ucv_scheduler_claim(f.scheduler, "running", 2, 2048, 0, NULL);
	g_assert_cmpint(request(&f, "waiting", 1, 1024, 0, NULL), ==, UCV_SCHEDULER_QUEUED);
	ucv_scheduler_set_host(f.scheduler, 2, 2048);
	assert_events(&f, "position:waiting=0");
	ucv_scheduler_claim(f.scheduler, "running", 2, 2048, 0, NULL); /* again: no change */
	ucv_scheduler_release(f.scheduler, "running");
	assert_events(&f, "admitted:waiting");
}

/* GPUs are exclusive, handed back at the end, and jobs wait while too few are free. */
static void
test_gpus(void)
{
	g_auto(Fixture) f = {0};
	const gchar *pool[] = {"0000:3b:00.0", "0000:5e:00.0", "0000:af:00.0", NULL};
	const gchar *const *a;
	const gchar *const *b;
	const gchar *const *c;
	g_autofree gchar *a0 = NULL;
	guint used = 0;

	fixture_use(&f, ucv_scheduler_new(0, 0, 1.0, 1.0, pool));
	ucv_scheduler_set_host(f.scheduler, 16, 65536);
	g_assert_cmpint(request(&f, "a", 1, 1024, 2, NULL), ==, UCV_SCHEDULER_ADMITTED);
	g_assert_cmpint(request(&f, "b", 1, 1024, 1, NULL), ==, UCV_SCHEDULER_ADMITTED);
	a = ucv_scheduler_get_gpus(f.scheduler, "a");
	b = ucv_scheduler_get_gpus(f.scheduler, "b");
	g_assert_cmpuint(g_strv_length((gchar **)a), ==, 2);
	g_assert_cmpuint(g_strv_length((gchar **)b), ==, 1);
	for (guint i = 0; a[i] != NULL; i++)
		g_assert_false(g_strv_contains(b, a[i]));
	a0 = g_strdup(a[0]);
	ucv_scheduler_get_used(f.scheduler, NULL, NULL, &used);
	g_assert_cmpuint(used, ==, 3);

	/* none left: the next GPU job waits, a CPU-only one does not */
	g_assert_cmpint(request(&f, "c", 1, 1024, 1, NULL), ==, UCV_SCHEDULER_QUEUED);
	g_assert_cmpint(request(&f, "d", 1, 1024, 0, NULL), ==, UCV_SCHEDULER_ADMITTED);
	g_assert_cmpuint(g_strv_length((gchar **)ucv_scheduler_get_gpus(f.scheduler, "d")), ==, 0);
	g_assert_null(ucv_scheduler_get_gpus(f.scheduler, "c"));

	ucv_scheduler_release(f.scheduler, "a");
	g_assert_null(ucv_scheduler_get_gpus(f.scheduler, "a"));
	c = ucv_scheduler_get_gpus(f.scheduler, "c");
	g_assert_nonnull(c);
	g_assert_cmpstr(c[0], ==, a0);
	g_assert_null(c[1]);
	ucv_scheduler_get_used(f.scheduler, NULL, NULL, &used);
	g_assert_cmpuint(used, ==, 2);
}

/* After a restart a running job gets back the very devices its machines have, however the pool
 * spells them, before any other job is admitted with them. */
static void
test_claim_held_gpus(void)
{
	g_auto(Fixture) f = {0};
	const gchar *pool[] = {"0000:3B:00.0", "0000:5e:00.0", "0000:af:00.0", NULL};
	const gchar *held[] = {"0000:af:00.0", "0000:3b:00.0", NULL};
	const gchar *stale[] = {"0000:af:00.0", "0000:99:00.0", NULL};
	const gchar *const *gpus;

	fixture_use(&f, ucv_scheduler_new(0, 0, 1.0, 1.0, pool));
	ucv_scheduler_claim(f.scheduler, "running", 1, 1024, 2, held);
	gpus = ucv_scheduler_get_gpus(f.scheduler, "running");
	g_assert_cmpuint(g_strv_length((gchar **)gpus), ==, 2);
	g_assert_cmpstr(gpus[0], ==, "0000:af:00.0");
	g_assert_cmpstr(gpus[1], ==, "0000:3B:00.0");

	/* a device already taken or unknown to the pool is replaced by a free one */
	g_test_expect_message("ucv-engine", G_LOG_LEVEL_WARNING, "*0000:af:00.0*not free*");
	g_test_expect_message("ucv-engine", G_LOG_LEVEL_WARNING, "*0000:99:00.0*not free*");
	ucv_scheduler_claim(f.scheduler, "other", 1, 1024, 2, stale);
	g_test_assert_expected_messages();
	gpus = ucv_scheduler_get_gpus(f.scheduler, "other");
	g_assert_cmpuint(g_strv_length((gchar **)gpus), ==, 1);
	g_assert_cmpstr(gpus[0], ==, "0000:5e:00.0");
}

/* Position numbers are announced when they change, and only then. */
static void
test_positions(void)
{
	g_auto(Fixture) f = {0};

	fixture_use(&f, ucv_scheduler_new(0, 0, 1.0, 1.0, NULL));
	ucv_scheduler_set_host(f.scheduler, 1, 1024);
	request(&f, "run", 1, 1024, 0, NULL);
	request(&f, "q1", 1, 1024, 0, NULL);
	request(&f, "q2", 1, 1024, 0, NULL);
	request(&f, "q3", 1, 1024, 0, NULL);
	assert_events(&f, "position:q1=0,position:q2=1,position:q3=2");
	g_assert_cmpint(ucv_scheduler_get_position(f.scheduler, "q3"), ==, 2);
	g_assert_cmpint(ucv_scheduler_get_position(f.scheduler, "run"), ==, -1);

	/* a job at the tail leaving moves nobody */
	ucv_scheduler_release(f.scheduler, "q3");
	assert_events(&f, "");
	request(&f, "q4", 1, 1024, 0, NULL);
	assert_events(&f, "position:q4=2");
	ucv_scheduler_release(f.scheduler, "q2");
	assert_events(&f, "position:q4=1");
	ucv_scheduler_release(f.scheduler, "run");
	assert_events(&f, "admitted:q1,position:q4=0");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/scheduler/order", test_order);
	g_test_add_func("/scheduler/backfill", test_backfill);
	g_test_add_func("/scheduler/release", test_release);
	g_test_add_func("/scheduler/capacity-maths", test_capacity_maths);
	g_test_add_func("/scheduler/claim", test_claim);
	g_test_add_func("/scheduler/gpus", test_gpus);
	g_test_add_func("/scheduler/claim-held-gpus", test_claim_held_gpus);
	g_test_add_func("/scheduler/positions", test_positions);
	return g_test_run();
}
