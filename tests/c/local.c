/* Local services from C: a Unix socket file made with its mode, owner and group before the
 * first client (read back with stat), a live path refused with ADDRESS_IN_USE and a regular
 * file never touched, a stale socket file replaced, only the service's own file removed, an
 * abstract name that leaves nothing on disk; peer credentials: accept-credentials refusing then
 * accepting, every handler having to agree, get_peer_credentials(), a C subclass overriding
 * klass->accept_credentials, allowed-users and allowed-groups by id, a client run as 65534 with
 * setpriv (as root), a TCP socket that restricts users refusing all; and misuse of every new
 * function. */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "loopback.h"
#include "refusals.h"
#include "settings-checks.h"
#include "wait.h"

/* What a greeted client reads: the service wrote it from incoming. */
#define GREETING "welcome\n"

/* A directory of its own for a test's sockets, removed with what is in it. */
static char *
scratch_new (void)
{
  g_autoptr(GError) error = NULL;
  char *directory = g_dir_make_tmp ("usher-c-local-XXXXXX", &error);

  g_assert_no_error (error);
  return directory;
}

static void
scratch_free (char *directory)
{
  g_autoptr(GDir) dir = g_dir_open (directory, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (directory, name, NULL);
      g_unlink (path);
    }
  g_rmdir (directory);
  g_free (directory);
}

typedef char Scratch;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Scratch, scratch_free)

/* Listens on the Unix socket at @path with @settings. */
static gboolean
listen_at (UsherSocketService *service, const char *path, UsherSocketSettings *settings,
           GError **error)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketAddress) effective = NULL;
  gboolean added = usher_socket_service_add_address_full (service, address, G_SOCKET_TYPE_STREAM,
                                                          G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                                          settings, &effective, error);

  if (added)
    {
      g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (effective));
      g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (effective)), ==,
                       path);
    }
  else
    g_assert_null (effective);
  return added;
}

/* An incoming handler that greets the client and keeps the connection in the GPtrArray held.
 * (A client may be gone already: another service's probe of whether the path is live.) */
static gboolean
greet_and_hold (UsherSocketService *service, GSocketConnection *connection,
                GObject *source_object, GPtrArray *held)
{
  /* A few bytes to a new connection do not block. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), GREETING,
                             strlen (GREETING), NULL, NULL, NULL);
  g_ptr_array_add (held, g_object_ref (connection));
  return TRUE;
}

/* A service that greets and keeps its connections in held, and keeps its accept errors. */
static UsherSocketService *
greeter_new (GPtrArray *held, GPtrArray *errors)
{
  UsherSocketService *service = usher_socket_service_new ();

  g_signal_connect (service, "incoming", G_CALLBACK (greet_and_hold), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (keep_error), errors);
  return service;
}

/* Connects a client to the Unix socket at @path; returns its connection, once connected. */
static GSocketConnection *
connect_unix_address (GSocketAddress *address)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  GSocketConnection *connection = NULL;

  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), NULL, connected_into,
                                 &connection);
  WAIT_UNTIL (connection != NULL);
  return connection;
}

static GSocketConnection *
connect_unix (const char *path)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);

  return connect_unix_address (address);
}

/* Connects to @path and returns what the client reads first. */
static char *
visit (const char *path)
{
  g_autoptr(GSocketConnection) client = connect_unix (path);

  return first_read (client);
}

/* Connects to @path and asserts that the client was served: greeted. */
static void
assert_served (const char *path)
{
  g_autofree char *greeting = visit (path);

  g_assert_cmpstr (greeting, ==, GREETING);
}

/* Connects to @path and asserts that the client was refused: closed before a greeting, and
 * reported, the @count'th refusal kept in the GPtrArray refusals. */
static void
assert_refused (const char *path, GPtrArray *refusals, guint count)
{
  g_autofree char *greeting = visit (path);

  g_assert_cmpstr (greeting, ==, "");
  WAIT_UNTIL (refusals->len == count);
}

#define ERROR_AT(errors, index) ((GError *) (errors)->pdata[index])

static gboolean
is_root (void)
{
  return geteuid () == 0;
}

static struct stat
stat_of (const char *path)
{
  struct stat status;

  g_assert_cmpint (g_stat (path, &status), ==, 0);
  return status;
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* The refusal at @index of refusals is for credentials, as is the accept error at @index of
 * errors: no peer, CREDENTIALS, and a PERMISSION_DENIED error naming @uid ("uid N") and a pid. */
static void
assert_refused_for_credentials (GPtrArray *errors, GPtrArray *refusals, guint index,
                                const char *uid)
{
  g_assert_error (ERROR_AT (errors, index), G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  assert_contains (ERROR_AT (errors, index)->message, uid);
  assert_contains (ERROR_AT (errors, index)->message, "pid ");
  g_assert_null (REFUSAL (refusals, index)->peer);
  g_assert_cmpint (REFUSAL (refusals, index)->reason, ==, USHER_REFUSAL_CREDENTIALS);
  g_assert_error (REFUSAL (refusals, index)->error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
}

/* The file has its mode whatever the umask, and its owner and group (as root: 65534), before
 * the first client; the mode changed while serving, the file follows; the file is removed when
 * the service closes. */
static void
test_the_file_has_its_mode_owner_and_group (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "service.sock", NULL);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(UsherSocketService) service = greeter_new (held, errors);
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GError) error = NULL;
  GParamSpec *owner = g_object_class_find_property (G_OBJECT_GET_CLASS (settings), "unix-owner");
  mode_t umask_before = umask (0077);
  struct stat status;

  /* Unset, the getters give their properties' defaults. */
  g_assert_cmpuint (usher_socket_settings_get_unix_mode (settings), ==, 0777);
  g_assert_cmpuint (usher_socket_settings_get_unix_owner (settings), ==,
                    G_PARAM_SPEC_UINT (owner)->default_value);
  g_assert_cmpuint (usher_socket_settings_get_unix_group (settings), ==,
                    G_PARAM_SPEC_UINT (owner)->default_value);

  /* More than the umask lets through: the mode is set, not masked. */
  usher_socket_settings_set_unix_mode (settings, 0664);
  g_assert_cmpuint (usher_socket_settings_get_unix_mode (settings), ==, 0664);
  if (is_root ())
    {
      usher_socket_settings_set_unix_owner (settings, 65534);
      usher_socket_settings_set_unix_group (settings, 65534);
      g_assert_cmpuint (usher_socket_settings_get_unix_owner (settings), ==, 65534);
      g_assert_cmpuint (usher_socket_settings_get_unix_group (settings), ==, 65534);
    }
  else
    g_test_message ("not root: the owner and group are not changed");
  g_assert_true (listen_at (service, path, settings, &error));
  g_assert_no_error (error);
  umask (umask_before);

  status = stat_of (path);
  g_assert_true (S_ISSOCK (status.st_mode));
  g_assert_cmpuint (status.st_mode & 07777, ==, 0664);
  g_assert_cmpuint (status.st_uid, ==, is_root () ? 65534 : geteuid ());
  g_assert_cmpuint (status.st_gid, ==, is_root () ? 65534 : getegid ());
  assert_served (path);
  g_assert_cmpuint (held->len, ==, 1);

  /* Changed while serving, the file follows at once. */
  usher_socket_settings_set_unix_mode (settings, 0600);
  g_assert_cmpuint (stat_of (path).st_mode & 07777, ==, 0600);
  assert_served (path);
  g_assert_cmpuint (stat_of (path).st_mode & 07777, ==, 0600);
  g_assert_cmpuint (errors->len, ==, 0);

  /* Closed, the service removes its file, as it notices. */
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  WAIT_UNTIL (!g_file_test (path, G_FILE_TEST_EXISTS));
}

/* A second service on a path where the first answers fails with ADDRESS_IN_USE, and the first
 * still serves; a regular file is never taken for a stale socket. */
static void
test_a_live_path_is_refused (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "service.sock", NULL);
  g_autofree char *file = g_build_filename (scratch, "not-a-socket", NULL);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(UsherSocketService) first = greeter_new (held, errors);
  g_autoptr(UsherSocketService) second = usher_socket_service_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  guint probes;
  ino_t inode;

  g_signal_connect (second, "incoming", G_CALLBACK (never_incoming), NULL);
  g_assert_true (listen_at (first, path, NULL, &error));
  inode = stat_of (path).st_ino;

  g_assert_false (listen_at (second, path, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  g_assert_cmpuint (stat_of (path).st_ino, ==, inode);
  /* The second service's probe may reach the first as a client. */
  iterate_pending ();
  probes = held->len;
  assert_served (path);
  g_assert_cmpuint (held->len, ==, probes + 1);

  g_assert_true (g_file_set_contents (file, "data", -1, NULL));
  g_assert_false (listen_at (second, file, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "data");
  g_assert_cmpuint (errors->len, ==, 0);
}

/* A stale socket file, bound by a socket that closed without removing it (as a process killed
 * with SIGKILL leaves it), is replaced. */
static void
test_a_stale_path_is_replaced (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "stale.sock", NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(UsherSocketService) service = greeter_new (held, errors);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) gone = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (gone, address, FALSE, &error));
  g_assert_true (g_socket_listen (gone, &error));
  g_assert_true (g_socket_close (gone, &error));
  g_assert_no_error (error);
  g_assert_true (S_ISSOCK (stat_of (path).st_mode));

  g_assert_true (listen_at (service, path, NULL, &error));
  g_assert_no_error (error);
  assert_served (path);
  g_assert_cmpuint (held->len, ==, 1);
  g_assert_cmpuint (errors->len, ==, 0);
}

static void
shut_down (GObject *service, GAsyncResult *result, gpointer done)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (usher_socket_service_shutdown_finish (USHER_SOCKET_SERVICE (service), result,
                                                       &error));
  g_assert_no_error (error);
  *(gboolean *) done = TRUE;
}

/* A shutdown removes the service's file at once; but not one another service put at its path
 * since. */
static void
test_only_its_own_file_is_removed (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "service.sock", NULL);
  g_autofree char *own = g_build_filename (scratch, "own.sock", NULL);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(UsherSocketService) first = greeter_new (held, errors);
  g_autoptr(UsherSocketService) second = greeter_new (held, errors);
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;

  g_assert_true (listen_at (first, path, NULL, &error));
  g_assert_true (listen_at (first, own, NULL, &error));
  /* Another instance takes the path over, the file removed by hand. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_true (listen_at (second, path, NULL, &error));
  g_assert_no_error (error);

  usher_socket_service_shutdown_async (first, NULL, shut_down, &done);
  g_assert_false (g_file_test (own, G_FILE_TEST_EXISTS));
  WAIT_UNTIL (done);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  assert_served (path);
  g_clear_object (&first);
  iterate_pending ();
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (errors->len, ==, 0);
}

/* Whether /proc/net/unix lists the abstract name @name. */
static gboolean
is_listed (const char *name)
{
  g_autofree char *table = NULL;
  g_autofree char *entry = g_strdup_printf (" @%s\n", name);

  g_assert_true (g_file_get_contents ("/proc/net/unix", &table, NULL, NULL));
  return strstr (table, entry) != NULL;
}

/* An abstract name is served as it is, and leaves nothing on disk. */
static void
test_an_abstract_name_leaves_nothing (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *name = g_strdup_printf ("usher-c-local-%d", (int) getpid ());
  g_autofree char *where = g_get_current_dir ();
  g_autofree char *in_cwd = g_build_filename (where, name, NULL);
  g_autoptr(GSocketAddress) address =
    g_unix_socket_address_new_with_type (name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(UsherSocketService) service = greeter_new (held, errors);
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GSocketConnection) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  gboolean done = FALSE;

  /* A mode has no file to apply to. */
  usher_socket_settings_set_unix_mode (settings, 0600);
  g_assert_true (usher_socket_service_add_address_full (service, address, G_SOCKET_TYPE_STREAM,
                                                        G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                                        settings, &effective, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_unix_socket_address_get_address_type (G_UNIX_SOCKET_ADDRESS (effective)),
                   ==, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  g_assert_true (is_listed (name));
  g_assert_false (g_file_test (in_cwd, G_FILE_TEST_EXISTS));

  client = connect_unix_address (address);
  greeting = first_read (client);
  g_assert_cmpstr (greeting, ==, GREETING);
  g_assert_cmpuint (held->len, ==, 1);

  usher_socket_service_shutdown_async (service, NULL, shut_down, &done);
  g_ptr_array_set_size (held, 0);
  g_io_stream_close (G_IO_STREAM (client), NULL, NULL);
  WAIT_UNTIL (done);
  g_assert_false (is_listed (name));
  g_assert_false (g_file_test (in_cwd, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (errors->len, ==, 0);
}

/* An accept-credentials handler that records the peer's pid, checks that nothing else ran
 * before it, and answers *(gboolean *) answer. */
typedef struct
{
  gboolean answer;
  guint asked;
  pid_t pid;
  uid_t uid;
} Judge;

static gboolean
judge (UsherSocketService *service, GSocketConnection *connection, GCredentials *credentials,
       Judge *judge)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (G_IS_SOCKET_CONNECTION (connection));
  g_assert_true (G_IS_CREDENTIALS (credentials));
  g_assert_null (usher_proxy_info_get_for_connection (connection));
  judge->asked++;
  judge->pid = g_credentials_get_unix_pid (credentials, &error);
  g_assert_no_error (error);
  judge->uid = g_credentials_get_unix_user (credentials, &error);
  g_assert_no_error (error);
  return judge->answer;
}

/* accept-credentials refuses, then accepts: a refused client is closed at once, reported with
 * accept-error (PERMISSION_DENIED, naming the uid and pid), refused (no peer, CREDENTIALS) and
 * counted; every handler must agree; the connection served keeps its credentials. */
static void
test_accept_credentials_decides (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "service.sock", NULL);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(UsherSocketService) service = greeter_new (held, errors);
  g_autoptr(GCredentials) credentials = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected_uid = g_strdup_printf ("uid %u", (guint) getuid ());
  g_autofree char *expected_pid = g_strdup_printf ("pid %d", (int) getpid ());
  g_autofree char *greeting = NULL;
  Judge first = { .answer = FALSE }, second = { .answer = TRUE };
  gulong second_id;

  g_signal_connect (service, "accept-credentials", G_CALLBACK (judge), &first);
  g_signal_connect (service, "refused", G_CALLBACK (keep_refusal), refusals);
  g_assert_true (listen_at (service, path, NULL, &error));

  greeting = visit (path);
  g_assert_cmpstr (greeting, ==, "");
  g_assert_cmpuint (first.asked, ==, 1);
  g_assert_cmpint (first.pid, ==, getpid ());
  g_assert_cmpuint (first.uid, ==, getuid ());
  WAIT_UNTIL (errors->len == 1 && refusals->len == 1);
  g_assert_cmpuint (held->len, ==, 0);
  assert_refused_for_credentials (errors, refusals, 0, expected_uid);
  assert_contains (ERROR_AT (errors, 0)->message, "accept-credentials");
  assert_contains (ERROR_AT (errors, 0)->message, expected_pid);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_CREDENTIALS), ==,
                    1);

  /* Two handlers: both must agree. The second refuses; the first, asked first, agrees. */
  first.answer = TRUE;
  second.answer = FALSE;
  second_id = g_signal_connect (service, "accept-credentials", G_CALLBACK (judge), &second);
  assert_refused (path, refusals, 2);
  g_assert_cmpuint (first.asked, ==, 2);
  g_assert_cmpuint (second.asked, ==, 1);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_CREDENTIALS), ==,
                    2);

  /* Both agree: served. */
  second.answer = TRUE;
  assert_served (path);
  g_assert_cmpuint (first.asked, ==, 3);
  g_assert_cmpuint (second.asked, ==, 2);
  g_assert_cmpuint (held->len, ==, 1);
  g_signal_handler_disconnect (service, second_id);

  credentials = usher_socket_service_get_peer_credentials (held->pdata[0], &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_CREDENTIALS (credentials));
  g_assert_cmpint (g_credentials_get_unix_pid (credentials, NULL), ==, getpid ());
  g_assert_cmpuint (g_credentials_get_unix_user (credentials, NULL), ==, getuid ());
  g_assert_cmpuint (errors->len, ==, 2);
  g_assert_cmpuint (refusals->len, ==, 2);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_DENIED), ==, 0);
}

/* get_peer_credentials() of a connection the service did not check (no handler, no list) asks
 * its socket. */
static void
test_peer_credentials_unchecked (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "service.sock", NULL);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(UsherSocketService) service = greeter_new (held, errors);
  g_autoptr(GCredentials) credentials = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (listen_at (service, path, NULL, &error));
  assert_served (path);
  credentials = usher_socket_service_get_peer_credentials (held->pdata[0], &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_credentials_get_unix_pid (credentials, NULL), ==, getpid ());
  g_assert_cmpuint (g_credentials_get_unix_user (credentials, NULL), ==, getuid ());
  g_assert_cmpuint (errors->len, ==, 0);
}

/* get_peer_credentials() of a TCP connection, which has no credentials, fails, as documented.
 * (It fails now: it returns credentials of uid -1, which Linux's SO_PEERCRED gives a TCP
 * socket.) */
static void
test_peer_credentials_of_tcp_fail (void)
{
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(UsherSocketService) service = greeter_new (held, errors);
  g_autoptr(GSocketConnection) tcp_client = NULL;
  g_autoptr(GCredentials) none = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  connect_to (port, connected_into, &tcp_client);
  WAIT_UNTIL (tcp_client != NULL && held->len == 1);
  none = usher_socket_service_get_peer_credentials (held->pdata[0], &error);
  if (none != NULL)
    g_test_message ("credentials of a TCP connection: uid %d, pid %d",
                    (int) g_credentials_get_unix_user (none, NULL),
                    (int) g_credentials_get_unix_pid (none, NULL));
  g_assert_null (none);
  g_assert_nonnull (error);
  g_assert_cmpuint (errors->len, ==, 0);
}

/* A subclass written in C overriding the class handler accept_credentials. */
G_DECLARE_FINAL_TYPE (TestGatekeeper, test_gatekeeper, TEST, GATEKEEPER, UsherSocketService)

struct _TestGatekeeper
{
  UsherSocketService parent_instance;
  Judge judge;
};

G_DEFINE_TYPE (TestGatekeeper, test_gatekeeper, USHER_TYPE_SOCKET_SERVICE)

static gboolean
test_gatekeeper_accept_credentials (UsherSocketService *service, GSocketConnection *connection,
                                    GCredentials *credentials)
{
  return judge (service, connection, credentials, &TEST_GATEKEEPER (service)->judge);
}

static void
test_gatekeeper_class_init (TestGatekeeperClass *klass)
{
  USHER_SOCKET_SERVICE_CLASS (klass)->accept_credentials = test_gatekeeper_accept_credentials;
}

static void
test_gatekeeper_init (TestGatekeeper *self)
{
}

/* The class handler alone decides, with no handler connected; with one, both must agree. */
static void
test_a_subclass_decides (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "service.sock", NULL);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(TestGatekeeper) gatekeeper = g_object_new (test_gatekeeper_get_type (), NULL);
  UsherSocketService *service = USHER_SOCKET_SERVICE (gatekeeper);
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  Judge handler = { .answer = FALSE };

  g_signal_connect (service, "incoming", G_CALLBACK (greet_and_hold), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (keep_error), errors);
  g_signal_connect (service, "refused", G_CALLBACK (keep_refusal), refusals);
  g_assert_true (listen_at (service, path, NULL, &error));

  gatekeeper->judge.answer = FALSE;
  greeting = visit (path);
  g_assert_cmpstr (greeting, ==, "");
  g_assert_cmpuint (gatekeeper->judge.asked, ==, 1);
  g_assert_cmpint (gatekeeper->judge.pid, ==, getpid ());
  WAIT_UNTIL (refusals->len == 1);
  g_assert_cmpint (REFUSAL (refusals, 0)->reason, ==, USHER_REFUSAL_CREDENTIALS);

  gatekeeper->judge.answer = TRUE;
  assert_served (path);
  g_assert_cmpuint (gatekeeper->judge.asked, ==, 2);

  /* A handler that refuses overrules the class handler that agrees. */
  g_signal_connect (service, "accept-credentials", G_CALLBACK (judge), &handler);
  assert_refused (path, refusals, 2);
  g_assert_cmpuint (handler.asked, ==, 1);
  g_assert_cmpuint (held->len, ==, 1);
  g_assert_cmpuint (errors->len, ==, 2);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_CREDENTIALS), ==,
                    2);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

/* allowed-users and allowed-groups by id, with this process's own clients: an id not ours
 * refuses them (naming the uid and pid), ours lets them in, a group of ours too; the lists read
 * back as ids; a TCP socket that restricts users refuses every connection. */
static void
test_allowed_users_and_groups_by_id (void)
{
  g_autoptr(Scratch) scratch = scratch_new ();
  g_autofree char *path = g_build_filename (scratch, "service.sock", NULL);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(UsherSocketService) service = greeter_new (held, errors);
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(UsherSocketSettings) tcp = usher_socket_settings_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *greeting = NULL;
  g_autofree char *own_uid = g_strdup_printf ("%u", (guint) getuid ());
  g_autofree char *own_gid = g_strdup_printf ("%u", (guint) getgid ());
  g_autofree char *other = g_strdup_printf ("%u", (guint) getuid () + 4242);
  g_autofree char *other_group = g_strdup_printf ("%u", (guint) getgid () + 4242);
  g_autofree char *expected = g_strdup_printf ("uid %u", (guint) getuid ());
  const char *others[] = { other, NULL };
  const char *others_groups[] = { other_group, NULL };
  const char *own[] = { own_uid, NULL };
  const char *own_group[] = { own_gid, NULL };
  const char *unknown[] = { own_uid, "no such user, surely", NULL };
  g_auto(GStrv) read_back = NULL;
  g_autoptr(GSocketConnection) tcp_client = NULL;
  guint16 port;

  g_signal_connect (service, "refused", G_CALLBACK (keep_refusal), refusals);
  g_assert_null (usher_socket_settings_get_allowed_users (settings));
  g_assert_null (usher_socket_settings_get_allowed_groups (settings));
  g_assert_true (usher_socket_settings_try_set_allowed_users (settings, others, &error));
  g_assert_no_error (error);
  read_back = usher_socket_settings_get_allowed_users (settings);
  g_assert_cmpstrv (read_back, others);
  g_clear_pointer (&read_back, g_strfreev);
  g_assert_true (listen_at (service, path, settings, &error));

  assert_refused (path, refusals, 1);
  assert_refused_for_credentials (errors, refusals, 0, expected);

  /* A group of ours lets us in, the user not. */
  g_assert_true (usher_socket_settings_try_set_allowed_groups (settings, own_group, &error));
  assert_served (path);
  g_assert_true (usher_socket_settings_try_set_allowed_groups (settings, others_groups, &error));
  assert_refused (path, refusals, 2);

  /* An unknown name: an error, and the list as it was. */
  g_assert_false (usher_socket_settings_try_set_allowed_users (settings, unknown, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  assert_contains (error->message, "no such user, surely");
  g_clear_error (&error);
  g_assert_false (usher_socket_settings_try_set_allowed_users (settings, unknown, NULL));
  EXPECT_CRITICAL ("*allowed-users*no such user, surely*",
                   usher_socket_settings_set_allowed_users (settings, unknown));
  read_back = usher_socket_settings_get_allowed_users (settings);
  g_assert_cmpstrv (read_back, others);
  g_clear_pointer (&read_back, g_strfreev);

  /* Ours: served. A name resolves to its id. */
  usher_socket_settings_set_allowed_users (settings, own);
  assert_served (path);
  g_assert_cmpuint (held->len, ==, 2);
  {
    const char *root[] = { "root", NULL };
    const char *zero[] = { "0", NULL };

    g_assert_true (usher_socket_settings_try_set_allowed_users (settings, root, &error));
    read_back = usher_socket_settings_get_allowed_users (settings);
    g_assert_cmpstrv (read_back, zero);
    g_clear_pointer (&read_back, g_strfreev);
    g_assert_true (usher_socket_settings_try_set_allowed_groups (settings, root, &error));
    read_back = usher_socket_settings_get_allowed_groups (settings);
    g_assert_cmpstrv (read_back, zero);
    g_clear_pointer (&read_back, g_strfreev);
  }
  /* Unset, anyone. */
  usher_socket_settings_unset (settings, "allowed-users");
  usher_socket_settings_unset (settings, "allowed-groups");
  assert_served (path);

  /* TCP: no credentials, so a socket that restricts users refuses all. */
  g_assert_true (usher_socket_settings_try_set_allowed_users (tcp, own, &error));
  g_assert_no_error (error);
  port = listen_with (service, tcp);
  connect_to (port, connected_into, &tcp_client);
  WAIT_UNTIL (tcp_client != NULL);
  greeting = first_read (tcp_client);
  g_assert_cmpstr (greeting, ==, "");
  WAIT_UNTIL (refusals->len == 3);
  g_assert_cmpint (REFUSAL (refusals, 2)->reason, ==, USHER_REFUSAL_CREDENTIALS);
  g_assert_cmpstr (REFUSAL (refusals, 2)->peer, ==, "127.0.0.1");
  g_assert_error (ERROR_AT (errors, 2), G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpuint (held->len, ==, 3);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_CREDENTIALS), ==,
                    3);
}

typedef struct
{
  char *output;
  GError *error;
  gboolean done;
} Child;

static void
child_done (GObject *process, GAsyncResult *result, gpointer data)
{
  Child *child = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (process), result, &child->output, NULL,
                                        &child->error);
  child->done = TRUE;
}

/* Runs python3 as user and group 65534 (setpriv), connecting to the Unix socket at @path and
 * printing the repr of what it reads first, while the main context runs; returns that. */
static char *
as_nobody (const char *path)
{
  static const char script[] =
    "import socket, sys\n"
    "c = socket.socket(socket.AF_UNIX)\n"
    "c.connect(sys.argv[1])\n"
    "try:\n"
    "    print(repr(c.recv(64).decode()))\n"
    "except ConnectionResetError:\n"
    "    print(repr(''))\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process =
    g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "setpriv", "--reuid=65534",
                      "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, path,
                      NULL);
  Child child = { 0 };

  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, child_done, &child);
  WAIT_UNTIL (child.done);
  g_assert_no_error (child.error);
  WAIT_UNTIL (g_subprocess_get_if_exited (process) || g_subprocess_get_if_signaled (process));
  g_assert_true (g_subprocess_get_successful (process));
  g_strstrip (child.output);
  return child.output;
}

/* As root: a root-only socket refuses a client run as 65534, reported with its uid; a socket
 * for anyone serves it; a socket for group 65534 serves it and refuses root. */
static void
test_another_user_is_refused_by_a_root_only_socket (void)
{
  g_autoptr(Scratch) scratch = NULL;
  g_autofree char *admin = NULL, *user = NULL, *group = NULL;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(UsherSocketService) service = NULL;
  g_autoptr(UsherSocketSettings) root_only = usher_socket_settings_new ();
  g_autoptr(UsherSocketSettings) anyone = usher_socket_settings_new ();
  g_autoptr(UsherSocketSettings) nogroup = usher_socket_settings_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  const char *root[] = { "root", NULL };
  const char *group_65534[] = { "65534", NULL };

  if (!is_root ())
    {
      g_test_skip ("not root: only root can run a client as another user");
      return;
    }
  if (g_find_program_in_path ("setpriv") == NULL)
    {
      g_test_skip ("no setpriv");
      return;
    }
  scratch = scratch_new ();
  g_assert_cmpint (g_chmod (scratch, 0755), ==, 0);
  admin = g_build_filename (scratch, "admin.sock", NULL);
  user = g_build_filename (scratch, "user.sock", NULL);
  group = g_build_filename (scratch, "group.sock", NULL);
  service = greeter_new (held, errors);
  g_signal_connect (service, "refused", G_CALLBACK (keep_refusal), refusals);

  g_assert_true (usher_socket_settings_try_set_allowed_users (root_only, root, &error));
  g_assert_no_error (error);
  /* The files let anyone connect: the credentials are what refuses. */
  usher_socket_settings_set_unix_mode (root_only, 0666);
  usher_socket_settings_set_unix_mode (anyone, 0666);
  usher_socket_settings_set_unix_mode (nogroup, 0666);
  g_assert_true (usher_socket_settings_try_set_allowed_groups (nogroup, group_65534, &error));
  g_assert_true (listen_at (service, admin, root_only, &error));
  g_assert_true (listen_at (service, user, anyone, &error));
  g_assert_true (listen_at (service, group, nogroup, &error));
  g_assert_no_error (error);

  reply = as_nobody (admin);
  g_assert_cmpstr (reply, ==, "''");
  WAIT_UNTIL (errors->len == 1 && refusals->len == 1);
  assert_refused_for_credentials (errors, refusals, 0, "uid 65534");

  g_clear_pointer (&reply, g_free);
  reply = as_nobody (user);
  g_assert_cmpstr (reply, ==, "'welcome\\n'");
  g_clear_pointer (&reply, g_free);
  reply = as_nobody (group);
  g_assert_cmpstr (reply, ==, "'welcome\\n'");
  g_assert_cmpuint (held->len, ==, 2);

  /* Root: let in by the root-only socket, refused by the group's. */
  assert_served (admin);
  assert_refused (group, refusals, 2);
  assert_contains (ERROR_AT (errors, 1)->message, "uid 0");
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_CREDENTIALS), ==,
                    2);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

/* Misuse of the new functions is a critical naming the function and the check, changes nothing,
 * and leaves a GError already set as it was. */
static void
test_misuse (void)
{
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set");
  g_autoptr(GError) socket_error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_DEFAULT, &socket_error);
  g_autoptr(GSocketConnection) connection = NULL;
  UsherSocketSettings *not_settings = (UsherSocketSettings *) object;
  const char *users[] = { "0", NULL };
  const char *not_utf8[] = { "0", "\xff\xfe", NULL };
  static const NumberSetting numbers[] = {
    { "unix_mode", usher_socket_settings_set_unix_mode, usher_socket_settings_get_unix_mode },
    { "unix_owner", usher_socket_settings_set_unix_owner, usher_socket_settings_get_unix_owner },
    { "unix_group", usher_socket_settings_set_unix_group, usher_socket_settings_get_unix_group },
  };
  static const ListSetting lists[] = {
    { "allowed_users", usher_socket_settings_set_allowed_users,
      usher_socket_settings_get_allowed_users, usher_socket_settings_try_set_allowed_users },
    { "allowed_groups", usher_socket_settings_set_allowed_groups,
      usher_socket_settings_get_allowed_groups, usher_socket_settings_try_set_allowed_groups },
  };

  g_assert_no_error (socket_error);
  connection = g_socket_connection_factory_create_connection (socket);

  assert_numbers_misused (numbers, G_N_ELEMENTS (numbers), not_settings, 0600);
  /* Beyond 07777: no mode. */
  EXPECT_CRITICAL ("*usher_socket_settings_set_unix_mode*is_valid*",
                   usher_socket_settings_set_unix_mode (settings, 010000));
  g_assert_false (usher_socket_settings_is_set (settings, "unix-mode"));
  usher_socket_settings_set_unix_mode (settings, 07777);
  g_assert_cmpuint (usher_socket_settings_get_unix_mode (settings), ==, 07777);

  assert_lists_misused (lists, G_N_ELEMENTS (lists), settings, not_settings, users, not_utf8);

  EXPECT_CRITICAL ("*usher_socket_service_get_peer_credentials*G_IS_SOCKET_CONNECTION*",
                   g_assert_null (usher_socket_service_get_peer_credentials (NULL, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_get_peer_credentials*G_IS_SOCKET_CONNECTION*",
                   g_assert_null (usher_socket_service_get_peer_credentials (
                     (GSocketConnection *) object, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_get_peer_credentials*error_is_unset*",
                   g_assert_null (usher_socket_service_get_peer_credentials (connection,
                                                                            &error)));
  g_assert_cmpstr (error->message, ==, "set");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/local/the-file-has-its-mode-owner-and-group",
                   test_the_file_has_its_mode_owner_and_group);
  g_test_add_func ("/local/a-live-path-is-refused", test_a_live_path_is_refused);
  g_test_add_func ("/local/a-stale-path-is-replaced", test_a_stale_path_is_replaced);
  g_test_add_func ("/local/only-its-own-file-is-removed", test_only_its_own_file_is_removed);
  g_test_add_func ("/local/an-abstract-name-leaves-nothing", test_an_abstract_name_leaves_nothing);
  g_test_add_func ("/local/accept-credentials-decides", test_accept_credentials_decides);
  g_test_add_func ("/local/peer-credentials-unchecked", test_peer_credentials_unchecked);
  g_test_add_func ("/local/a-subclass-decides", test_a_subclass_decides);
  g_test_add_func ("/local/allowed-users-and-groups-by-id", test_allowed_users_and_groups_by_id);
  g_test_add_func ("/local/another-user-is-refused-by-a-root-only-socket",
                   test_another_user_is_refused_by_a_root_only_socket);
  g_test_add_func ("/local/misuse", test_misuse);
  /* Last: it fails now, and a failure ends the program. */
  g_test_add_func ("/local/peer-credentials-of-tcp-fail", test_peer_credentials_of_tcp_fail);
  return g_test_run ();
}
