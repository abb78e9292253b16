/* Misuse of Usher's functions from C: a critical naming the function and the check, which the
 * test expects. For the accessors of UsherSocketSettings, tables of them checked in a loop. */

#pragma once

#include <usher/usher.h>

/* Expects a critical of the Usher domain matching @pattern from @statement, and no other. */
#define EXPECT_CRITICAL(pattern, statement)                                                   \
  G_STMT_START                                                                                \
  {                                                                                           \
    g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, pattern);                           \
    statement;                                                                                \
    g_test_assert_expected_messages ();                                                       \
  }                                                                                           \
  G_STMT_END

/* The accessors of a number setting; @name as in their C names (peer_rate). */
typedef struct
{
  const char *name;
  void (*set) (UsherSocketSettings *, guint);
  guint (*get) (UsherSocketSettings *);
} NumberSetting;

/* The accessors of a list setting; @name as in their C names (allowed_peers). */
typedef struct
{
  const char *name;
  void (*set) (UsherSocketSettings *, const gchar *const *);
  gchar **(*get) (UsherSocketSettings *);
  gboolean (*try_set) (UsherSocketSettings *, const gchar *const *, GError **);
} ListSetting;

/* Each getter and setter of @numbers, with no instance and with @not_settings (another type):
 * a critical naming the function and USHER_IS_SOCKET_SETTINGS, and a getter returns 0. The
 * setters are given @value. */
static inline void
assert_numbers_misused (const NumberSetting *numbers, gsize n_numbers,
                        UsherSocketSettings *not_settings, guint value)
{
  for (gsize i = 0; i < n_numbers; i++)
    {
      g_autofree char *getter = g_strdup_printf ("*usher_socket_settings_get_%s*"
                                                 "USHER_IS_SOCKET_SETTINGS*", numbers[i].name);
      g_autofree char *setter = g_strdup_printf ("*usher_socket_settings_set_%s*"
                                                 "USHER_IS_SOCKET_SETTINGS*", numbers[i].name);

      EXPECT_CRITICAL (getter, g_assert_cmpuint (numbers[i].get (NULL), ==, 0));
      EXPECT_CRITICAL (getter, g_assert_cmpuint (numbers[i].get (not_settings), ==, 0));
      EXPECT_CRITICAL (setter, numbers[i].set (NULL, value));
      EXPECT_CRITICAL (setter, numbers[i].set (not_settings, value));
    }
}

/* Each getter, setter and try_set of @lists: with no instance and with @not_settings, a
 * critical naming the function and USHER_IS_SOCKET_SETTINGS; on @settings, @not_utf8 (a list
 * with a string that is not UTF-8) is a critical naming strv_is_utf8, and so is an error
 * already set (error_is_unset), which is left as it was. @valid is a list the setting takes.
 * Nothing is set on @settings. */
static inline void
assert_lists_misused (const ListSetting *lists, gsize n_lists, UsherSocketSettings *settings,
                      UsherSocketSettings *not_settings, const char *const *valid,
                      const char *const *not_utf8)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set");

  for (gsize i = 0; i < n_lists; i++)
    {
      g_autofree char *property = g_strdelimit (g_strdup (lists[i].name), "_", '-');
      g_autofree char *getter = g_strdup_printf ("*usher_socket_settings_get_%s*"
                                                 "USHER_IS_SOCKET_SETTINGS*", lists[i].name);
      g_autofree char *setter = g_strdup_printf ("*usher_socket_settings_set_%s*",
                                                 lists[i].name);
      g_autofree char *try_set = g_strdup_printf ("*usher_socket_settings_try_set_%s*",
                                                  lists[i].name);
      g_autofree char *try_set_type = g_strconcat (try_set, "USHER_IS_SOCKET_SETTINGS*", NULL);
      g_autofree char *try_set_utf8 = g_strconcat (try_set, "strv_is_utf8*", NULL);
      g_autofree char *try_set_error = g_strconcat (try_set, "error_is_unset*", NULL);
      g_autofree char *setter_type = g_strconcat (setter, "USHER_IS_SOCKET_SETTINGS*", NULL);
      g_autofree char *setter_utf8 = g_strconcat (setter, "strv_is_utf8*", NULL);

      EXPECT_CRITICAL (getter, g_assert_null (lists[i].get (NULL)));
      EXPECT_CRITICAL (getter, g_assert_null (lists[i].get (not_settings)));
      EXPECT_CRITICAL (setter_type, lists[i].set (NULL, valid));
      EXPECT_CRITICAL (setter_type, lists[i].set (not_settings, valid));
      EXPECT_CRITICAL (setter_utf8, lists[i].set (settings, not_utf8));
      EXPECT_CRITICAL (try_set_type, g_assert_false (lists[i].try_set (NULL, valid, NULL)));
      EXPECT_CRITICAL (try_set_type,
                       g_assert_false (lists[i].try_set (not_settings, valid, NULL)));
      EXPECT_CRITICAL (try_set_utf8, g_assert_false (lists[i].try_set (settings, not_utf8,
                                                                       NULL)));
      EXPECT_CRITICAL (try_set_error, g_assert_false (lists[i].try_set (settings, valid,
                                                                        &error)));
      g_assert_cmpstr (error->message, ==, "set");
      g_assert_false (usher_socket_settings_is_set (settings, property));
    }
}
