//! Files on disk: the stored-name scheme for uploads, image sniffing, streaming a body to disk
//! atomically, and avatars. Names on disk are generated or come from validated newtypes; request
//! text never becomes a path. No HTTP and no SQL.

pub mod avatars;
pub mod uploads;
