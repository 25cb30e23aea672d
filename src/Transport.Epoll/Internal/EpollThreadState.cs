namespace EpollTransport.Internal;

/// <summary>The life of an <see cref="EpollThread"/>.</summary>
internal enum EpollThreadState
{
    /// <summary>Created; its OS thread has not started.</summary>
    NotStarted = 0,

    /// <summary>Dispatching events or running posted work.</summary>
    Running = 1,

    /// <summary>Blocked in <c>epoll_wait</c> with no timeout: posting work must write the eventfd to wake it.</summary>
    Blocked = 2,

    /// <summary>Its loop has ended; it owns no sockets any more.</summary>
    Stopped = 3,
}
