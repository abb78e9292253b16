/* The version of the library in use, and usher_check_version() with gtk_check_version()'s rule. */

#include <usher/usher.h>

/* The library and the headers come from the same build: the same version. */
static void
test_runtime_is_compile_time (void)
{
  g_assert_cmpuint (usher_get_major_version (), ==, USHER_MAJOR_VERSION);
  g_assert_cmpuint (usher_get_minor_version (), ==, USHER_MINOR_VERSION);
  g_assert_cmpuint (usher_get_micro_version (), ==, USHER_MICRO_VERSION);
  g_assert_true (USHER_CHECK_VERSION (0, 2, 0));
}

static void
test_check_version (void)
{
  guint major = usher_get_major_version ();
  guint minor = usher_get_minor_version ();
  guint micro = usher_get_micro_version ();

  /* Compatible: this version, and every older one of its major version. */
  g_assert_null (usher_check_version (USHER_MAJOR_VERSION, USHER_MINOR_VERSION,
                                      USHER_MICRO_VERSION));
  g_assert_null (usher_check_version (major, 0, 0));
  g_assert_null (usher_check_version (0, 2, 0)); /* the first version with the function */
  if (micro > 0)
    g_assert_null (usher_check_version (major, minor, micro - 1));
  if (minor > 0)
    g_assert_null (usher_check_version (major, minor - 1, 99));

  /* Not: a newer one, or another major version; the same static string each time. */
  g_assert_cmpstr (usher_check_version (major, minor, micro + 1), ==,
                   "Usher version too old (micro mismatch)");
  g_assert_cmpstr (usher_check_version (major, minor + 1, 0), ==,
                   "Usher version too old (micro mismatch)");
  g_assert_true (usher_check_version (major, minor + 1, 0) ==
                 usher_check_version (major, minor, micro + 1));
  g_assert_cmpstr (usher_check_version (major + 1, 0, 0), ==,
                   "Usher version too old (major mismatch)");
  if (major > 0)
    g_assert_cmpstr (usher_check_version (major - 1, minor, micro), ==,
                     "Usher version too new (major mismatch)");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/version/runtime-is-compile-time", test_runtime_is_compile_time);
  g_test_add_func ("/version/check-version", test_check_version);
  return g_test_run ();
}
