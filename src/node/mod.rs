//! The thin Node binding: converts arguments, schedules `AsyncTask`s on the libuv pool,
//! turns engine errors into JS errors with a stable `code`. It opens no file itself.

mod convert;
mod db;
mod error;
mod index;
mod iter;
mod maintenance;
mod point_read;
mod snapshot;
mod tasks;
