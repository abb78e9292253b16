//! Subclassing support for [`ThreadedSocketService`].

use glib::{prelude::*, subclass::prelude::*};

use super::socket_service::SocketServiceImpl;
use crate::{ThreadedSocketService, ffi};

/// The virtual methods of [`ThreadedSocketService`] (`UsherThreadedSocketServiceClass`).
///
/// [`run`](Self::run) is called in the pool's worker threads, so the implementation must be
/// `Sync`.
pub trait ThreadedSocketServiceImpl:
    SocketServiceImpl + ObjectSubclass<Type: IsA<ThreadedSocketService>> + Sync
{
    /// Class handler of [`run`](crate::ThreadedSocketServiceExt::connect_run), run in a
    /// worker thread after the connected handlers, unless one of them returned `true`.
    ///
    /// It may block until it is done with `connection`. The default returns `false`.
    fn run(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool {
        self.parent_run(connection, source_object)
    }
}

/// Calls into the parent class's implementation of [`ThreadedSocketServiceImpl`].
pub trait ThreadedSocketServiceImplExt: ThreadedSocketServiceImpl {
    /// Chains up to the parent class's `run`.
    fn parent_run(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool {
        unsafe {
            let data = Self::type_data();
            let parent_class =
                data.as_ref().parent_class() as *const ffi::UsherThreadedSocketServiceClass;
            ffi::call_connection_vfunc_raw(
                (*parent_class).run,
                self.obj()
                    .unsafe_cast_ref::<ThreadedSocketService>()
                    .as_ptr(),
                connection,
                source_object,
            )
        }
    }
}

impl<T: ThreadedSocketServiceImpl> ThreadedSocketServiceImplExt for T {}

unsafe impl<T: ThreadedSocketServiceImpl> IsSubclassable<T> for ThreadedSocketService {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class);
        ffi::set_threaded_socket_service_slots::<T>(class.as_mut());
    }
}

/// What the `run` slot calls for a Rust subclass: its `ThreadedSocketServiceImpl`.
impl<T: ThreadedSocketServiceImpl> ffi::ThreadedSocketServiceClassHandlers for T {
    fn run(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool {
        ThreadedSocketServiceImpl::run(self, connection, source_object)
    }
}
