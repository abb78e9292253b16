//! GIO asynchronous calls whose callback may run on another thread than the caller's.

use glib::translate::*;

/// Finishes a GIO asynchronous operation: its result, or its error.
type Finish<T> = unsafe fn(
    *mut glib::gobject_ffi::GObject,
    *mut gio::ffi::GAsyncResult,
    *mut *mut glib::ffi::GError,
) -> Option<T>;

/// Starts a GIO asynchronous operation with `start`, given its `GAsyncReadyCallback` and data,
/// and calls `callback` with what `finish` makes of its result.
///
/// gio-rs's wrappers insist that their callback run on the thread that started the operation;
/// this one's may run on whichever thread iterates the context it was started on, hence `Send`.
///
/// # Safety
/// `start` must start one operation that calls the callback it is given once, with the data it
/// is given, and `finish` must be that operation's finish function.
unsafe fn gio_async<T, F>(
    start: impl FnOnce(gio::ffi::GAsyncReadyCallback, glib::ffi::gpointer),
    finish: Finish<T>,
    callback: F,
) where
    F: FnOnce(Result<T, glib::Error>) + Send + 'static,
{
    unsafe extern "C" fn done<T, F>(
        source: *mut glib::gobject_ffi::GObject,
        result: *mut gio::ffi::GAsyncResult,
        data: glib::ffi::gpointer,
    ) where
        F: FnOnce(Result<T, glib::Error>) + Send + 'static,
    {
        // SAFETY: the data boxed below, and the result of the operation `finish` is for.
        unsafe {
            let (callback, finish) = *Box::from_raw(data as *mut (F, Finish<T>));
            let mut error = std::ptr::null_mut();
            let value = finish(source, result, &mut error);
            callback(match value {
                Some(value) => Ok(value),
                None if !error.is_null() => Err(from_glib_full(error)),
                None => Err(glib::Error::new(
                    gio::IOErrorEnum::Failed,
                    "The operation failed without saying why",
                )),
            })
        }
    }
    let data = Box::into_raw(Box::new((callback, finish)));
    start(Some(done::<T, F>), data as glib::ffi::gpointer);
}

/// `g_socket_listener_accept_socket_async()` on the calling thread's thread-default context:
/// the socket accepted and the `source_object` of the listening socket it came from.
pub(crate) fn accept_socket_async<F>(
    listener: &gio::SocketListener,
    cancellable: &gio::Cancellable,
    callback: F,
) where
    F: FnOnce(Result<(gio::Socket, Option<glib::Object>), glib::Error>) + Send + 'static,
{
    unsafe fn finish(
        listener: *mut glib::gobject_ffi::GObject,
        result: *mut gio::ffi::GAsyncResult,
        error: *mut *mut glib::ffi::GError,
    ) -> Option<(gio::Socket, Option<glib::Object>)> {
        unsafe {
            let mut source_object = std::ptr::null_mut();
            let socket = gio::ffi::g_socket_listener_accept_socket_finish(
                listener as *mut gio::ffi::GSocketListener,
                result,
                &mut source_object,
                error,
            );
            (!socket.is_null()).then(|| (from_glib_full(socket), from_glib_none(source_object)))
        }
    }
    // SAFETY: one accept, which calls back once; and its finish function.
    unsafe {
        gio_async(
            |ready, data| {
                gio::ffi::g_socket_listener_accept_socket_async(
                    listener.to_glib_none().0,
                    cancellable.to_glib_none().0,
                    ready,
                    data,
                )
            },
            finish,
            callback,
        )
    }
}

/// `g_tls_connection_handshake_async()` on the calling thread's thread-default context.
pub(crate) fn tls_handshake_async<F>(
    connection: &gio::TlsConnection,
    cancellable: &gio::Cancellable,
    callback: F,
) where
    F: FnOnce(Result<(), glib::Error>) + Send + 'static,
{
    unsafe fn finish(
        connection: *mut glib::gobject_ffi::GObject,
        result: *mut gio::ffi::GAsyncResult,
        error: *mut *mut glib::ffi::GError,
    ) -> Option<()> {
        let done = unsafe {
            gio::ffi::g_tls_connection_handshake_finish(
                connection as *mut gio::ffi::GTlsConnection,
                result,
                error,
            )
        };
        (done != glib::ffi::GFALSE).then_some(())
    }
    // SAFETY: one handshake, which calls back once; and its finish function.
    unsafe {
        gio_async(
            |ready, data| {
                gio::ffi::g_tls_connection_handshake_async(
                    connection.to_glib_none().0,
                    glib::ffi::G_PRIORITY_DEFAULT,
                    cancellable.to_glib_none().0,
                    ready,
                    data,
                )
            },
            finish,
            callback,
        )
    }
}
