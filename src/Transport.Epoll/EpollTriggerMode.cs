namespace EpollTransport;

/// <summary>
/// How sockets are registered with epoll.
/// </summary>
public enum EpollTriggerMode
{
    /// <summary>
    /// Edge-triggered (<c>EPOLLET</c>): each socket is registered once for reads and writes, and the
    /// transport reads or writes until the kernel reports <c>EAGAIN</c>. This is the default.
    /// </summary>
    Edge = 0,

    /// <summary>
    /// Level-triggered: epoll reports a socket for as long as it stays readable or writable, so the
    /// transport drops read interest while reading is paused and asks for write interest only while
    /// a send is waiting for room.
    /// </summary>
    Level = 1,
}
