/* The C ABI of Usher's types matches GLib's, so code written for GLib's types keeps its layout. */

#include <usher/usher.h>

static void
test_class_layout (void)
{
  g_assert_cmpuint (sizeof (UsherSocketServiceClass), ==, sizeof (GSocketServiceClass));
  g_assert_cmpuint (G_STRUCT_OFFSET (UsherSocketServiceClass, incoming), ==,
                    G_STRUCT_OFFSET (GSocketServiceClass, incoming));
  g_assert_cmpuint (sizeof (UsherThreadedSocketServiceClass), ==,
                    sizeof (GThreadedSocketServiceClass));
  g_assert_cmpuint (G_STRUCT_OFFSET (UsherThreadedSocketServiceClass, run), ==,
                    G_STRUCT_OFFSET (GThreadedSocketServiceClass, run));
  /* The slots Usher added take the reserved space, in order, and leave the rest reserved. */
  g_assert_cmpuint (G_STRUCT_OFFSET (UsherSocketServiceClass, select_certificate), ==,
                    G_STRUCT_OFFSET (UsherSocketServiceClass, accept_credentials) + sizeof (gpointer));
  g_assert_cmpuint (G_STRUCT_OFFSET (UsherSocketServiceClass, select_certificate) + 3 * sizeof (gpointer),
                    ==, sizeof (UsherSocketServiceClass));
}

static void
assert_type_sizes (GType type, gsize class_size, gsize instance_size)
{
  GTypeQuery query;

  g_type_query (type, &query);
  g_assert_cmpuint (query.type, ==, type);
  g_assert_cmpuint (query.class_size, ==, class_size);
  g_assert_cmpuint (query.instance_size, ==, instance_size);
}

static void
test_registered_types (void)
{
  assert_type_sizes (USHER_TYPE_SOCKET_SERVICE,
                     sizeof (UsherSocketServiceClass), sizeof (UsherSocketService));
  assert_type_sizes (USHER_TYPE_THREADED_SOCKET_SERVICE,
                     sizeof (UsherThreadedSocketServiceClass), sizeof (UsherThreadedSocketService));

  g_assert_cmpstr (g_type_name (USHER_TYPE_SOCKET_SERVICE), ==, "UsherSocketService");
  g_assert_cmpuint (g_type_parent (USHER_TYPE_SOCKET_SERVICE), ==, G_TYPE_SOCKET_LISTENER);
  g_assert_cmpstr (g_type_name (USHER_TYPE_THREADED_SOCKET_SERVICE), ==,
                   "UsherThreadedSocketService");
  g_assert_cmpuint (g_type_parent (USHER_TYPE_THREADED_SOCKET_SERVICE), ==,
                    USHER_TYPE_SOCKET_SERVICE);
  g_assert_true (G_TYPE_IS_DERIVABLE (USHER_TYPE_SOCKET_SERVICE));
  g_assert_true (G_TYPE_IS_DERIVABLE (USHER_TYPE_THREADED_SOCKET_SERVICE));

  /* UsherProxyInfo's instance structure is private: only its class structure is the ABI. */
  GTypeQuery query;
  g_type_query (USHER_TYPE_PROXY_INFO, &query);
  g_assert_cmpstr (query.type_name, ==, "UsherProxyInfo");
  g_assert_cmpuint (query.class_size, ==, sizeof (UsherProxyInfoClass));
  g_assert_cmpuint (g_type_parent (USHER_TYPE_PROXY_INFO), ==, G_TYPE_OBJECT);
  /* As G_DECLARE_FINAL_TYPE declares it. */
  g_assert_true (G_TYPE_IS_FINAL (USHER_TYPE_PROXY_INFO));

  g_type_query (USHER_TYPE_CLIENT_HELLO, &query);
  g_assert_cmpstr (query.type_name, ==, "UsherClientHello");
  g_assert_cmpuint (query.class_size, ==, sizeof (UsherClientHelloClass));
  g_assert_cmpuint (g_type_parent (USHER_TYPE_CLIENT_HELLO), ==, G_TYPE_OBJECT);
  g_assert_true (G_TYPE_IS_FINAL (USHER_TYPE_CLIENT_HELLO));
}

/* The values of UsherProxyCommand in the header are those registered, with their names. */
static void
test_enums (void)
{
  g_autoptr(GEnumClass) commands = g_type_class_ref (USHER_TYPE_PROXY_COMMAND);
  const struct { int value; const char *name; const char *nick; } expected[] = {
    { USHER_PROXY_COMMAND_LOCAL, "USHER_PROXY_COMMAND_LOCAL", "local" },
    { USHER_PROXY_COMMAND_PROXY, "USHER_PROXY_COMMAND_PROXY", "proxy" },
  };

  g_assert_cmpstr (g_type_name (USHER_TYPE_PROXY_COMMAND), ==, "UsherProxyCommand");
  g_assert_cmpuint (commands->n_values, ==, G_N_ELEMENTS (expected));
  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      GEnumValue *value = g_enum_get_value (commands, expected[i].value);
      g_assert_nonnull (value);
      g_assert_cmpstr (value->value_name, ==, expected[i].name);
      g_assert_cmpstr (value->value_nick, ==, expected[i].nick);
    }
}

/* The signal's flags, return and parameter types are GLib's. */
static void
assert_same_signal (const char *name, GType ours, GType glibs)
{
  GSignalQuery our_query, glib_query;
  g_autoptr(GTypeClass) our_class = g_type_class_ref (ours);
  g_autoptr(GTypeClass) glib_class = g_type_class_ref (glibs);

  g_signal_query (g_signal_lookup (name, ours), &our_query);
  g_signal_query (g_signal_lookup (name, glibs), &glib_query);
  g_assert_cmpuint (our_query.signal_id, !=, 0);
  g_assert_cmpuint (our_query.signal_flags, ==, glib_query.signal_flags);
  g_assert_cmpuint (our_query.return_type, ==, glib_query.return_type);
  g_assert_cmpuint (our_query.n_params, ==, glib_query.n_params);
  for (guint i = 0; i < our_query.n_params; i++)
    g_assert_cmpuint (our_query.param_types[i], ==, glib_query.param_types[i]);
}

/* The flags (but for GLib's static-string optimisation), range and default are GLib's. */
static void
assert_same_property (const char *name, GType ours, GType glibs)
{
  const GParamFlags static_strings = G_PARAM_STATIC_STRINGS;
  g_autoptr(GTypeClass) our_class = g_type_class_ref (ours);
  g_autoptr(GTypeClass) glib_class = g_type_class_ref (glibs);
  GParamSpec *our_spec = g_object_class_find_property (G_OBJECT_CLASS (our_class), name);
  GParamSpec *glib_spec = g_object_class_find_property (G_OBJECT_CLASS (glib_class), name);

  g_assert_nonnull (our_spec);
  g_assert_cmpuint (our_spec->value_type, ==, glib_spec->value_type);
  g_assert_cmpuint (our_spec->flags & ~static_strings, ==, glib_spec->flags & ~static_strings);
  g_assert_cmpint (g_param_values_cmp (our_spec, g_param_spec_get_default_value (our_spec),
                                       g_param_spec_get_default_value (glib_spec)), ==, 0);
  if (G_IS_PARAM_SPEC_INT (our_spec))
    {
      g_assert_cmpint (G_PARAM_SPEC_INT (our_spec)->minimum, ==, G_PARAM_SPEC_INT (glib_spec)->minimum);
      g_assert_cmpint (G_PARAM_SPEC_INT (our_spec)->maximum, ==, G_PARAM_SPEC_INT (glib_spec)->maximum);
    }
}

static void
test_signals_and_properties (void)
{
  assert_same_signal ("incoming", USHER_TYPE_SOCKET_SERVICE, G_TYPE_SOCKET_SERVICE);
  assert_same_signal ("run", USHER_TYPE_THREADED_SOCKET_SERVICE, G_TYPE_THREADED_SOCKET_SERVICE);
  assert_same_property ("active", USHER_TYPE_SOCKET_SERVICE, G_TYPE_SOCKET_SERVICE);
  assert_same_property ("max-threads", USHER_TYPE_THREADED_SOCKET_SERVICE,
                        G_TYPE_THREADED_SOCKET_SERVICE);
}

/* select-certificate: the connection and what its ClientHello said, returning a certificate
 * or NULL; its class handler is the slot. */
static void
test_select_certificate_signal (void)
{
  GSignalQuery query;
  g_autoptr(GTypeClass) klass = g_type_class_ref (USHER_TYPE_SOCKET_SERVICE);

  g_signal_query (g_signal_lookup ("select-certificate", USHER_TYPE_SOCKET_SERVICE), &query);
  g_assert_cmpuint (query.signal_id, !=, 0);
  g_assert_cmpuint (query.return_type, ==, G_TYPE_TLS_CERTIFICATE);
  g_assert_cmpuint (query.n_params, ==, 2);
  g_assert_cmpuint (query.param_types[0], ==, G_TYPE_SOCKET_CONNECTION);
  g_assert_cmpuint (query.param_types[1], ==, USHER_TYPE_CLIENT_HELLO);
  g_assert_nonnull (USHER_SOCKET_SERVICE_CLASS (klass)->select_certificate);

  g_autoptr(GTypeClass) settings = g_type_class_ref (USHER_TYPE_SOCKET_SETTINGS);
  g_signal_query (g_signal_lookup ("tls-certificate-reload-failed", USHER_TYPE_SOCKET_SETTINGS),
                  &query);
  g_assert_cmpuint (query.n_params, ==, 2);
  g_assert_cmpuint (query.param_types[0], ==, G_TYPE_STRING);
  g_assert_cmpuint (query.param_types[1], ==, G_TYPE_ERROR);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/abi/class-layout", test_class_layout);
  g_test_add_func ("/abi/registered-types", test_registered_types);
  g_test_add_func ("/abi/signals-and-properties", test_signals_and_properties);
  g_test_add_func ("/abi/enums", test_enums);
  g_test_add_func ("/abi/select-certificate", test_select_certificate_signal);
  return g_test_run ();
}
