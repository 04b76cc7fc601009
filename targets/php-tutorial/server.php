<?php
// The socket tutorial's server, written again from its description: a target
// for the harness that nobody tuned to it. Plain sockets extension, one client
// at a time in a blocking accept loop:
//   greet "测试成功!\n", read once (at most 8192 bytes),
//   answer "收到的信息:" + what that read returned + "\n", close;
//   listen backlog 4; exit 0 after five clients.
// Port: $PORT (default 9000) on 0.0.0.0.
// SIGTERM (docker stop), when the pcntl extension is there: an idle server
// exits 0 at once; a client being served is finished first (a client that
// never sends holds the server until docker stop's SIGKILL). Connections still
// in the accept queue are reset when the listener closes.
// Without pcntl, PID 1 ignores SIGTERM: docker stop waits out its grace time.
// (A SIGTERM that lands in the instant between the loop's check and accept() blocking
// is seen only when the next client arrives.)

declare(strict_types=1);

const GREETING = "测试成功!\n";
const ACK_PREFIX = "收到的信息:";
const READ_SIZE = 8192;
const BACKLOG = 4;
const CLIENTS = 5;
const EINTR = 4;

function say(string $line): void
{
    fwrite(STDERR, "php-tutorial: $line\n");
}

function fail(string $what, $socket = null): never
{
    $error = $socket === null ? socket_last_error() : socket_last_error($socket);
    say("error: $what: " . socket_strerror($error));
    exit(1);
}

// socket_write may write less than asked; a blocking socket takes the rest in turn.
function write_all($conn, string $data): bool
{
    while ($data !== '') {
        $sent = @socket_write($conn, $data);
        if ($sent === false) {
            if (socket_last_error($conn) === EINTR) {
                socket_clear_error($conn);
                continue;
            }
            return false;
        }
        $data = substr($data, $sent);
    }
    return true;
}

$stopping = false;
if (function_exists('pcntl_signal')) {
    pcntl_async_signals(true);
    // No SA_RESTART: a blocked accept returns (EINTR), so the loop sees the flag.
    pcntl_signal(SIGTERM, function () use (&$stopping): void {
        $stopping = true;
        say('SIGTERM: no new clients; the one being served, if any, is finished first');
    }, false);
}

$port = (int) (getenv('PORT') ?: 9000);
$sock = socket_create(AF_INET, SOCK_STREAM, SOL_TCP) or fail('socket_create');
socket_set_option($sock, SOL_SOCKET, SO_REUSEADDR, 1);
@socket_bind($sock, '0.0.0.0', $port) or fail("bind 0.0.0.0:$port", $sock);
@socket_listen($sock, BACKLOG) or fail('listen', $sock);
say("listening on 0.0.0.0:$port, backlog " . BACKLOG . ', ' . CLIENTS . ' clients, then exit'
    . (function_exists('pcntl_signal') ? '' : ' (no pcntl: SIGTERM is ignored)'));

$served = 0;
while ($served < CLIENTS && !$stopping) {
    $conn = @socket_accept($sock);
    if ($conn === false) {
        // PHP files accept's error under the global last error, not the listener's.
        if (socket_last_error() === EINTR) {
            socket_clear_error();
            continue;  // a signal: the loop condition decides
        }
        fail('accept');
    }
    $served++;
    socket_getpeername($conn, $peer, $peerPort);
    $client = "client $served of " . CLIENTS . " ($peer:$peerPort)";
    if (!write_all($conn, GREETING)) {
        say("$client: greeting not sent: " . socket_strerror(socket_last_error($conn)));
        socket_close($conn);
        continue;
    }
    do {  // a signal must not cut the exchange short: read again
        $data = @socket_read($conn, READ_SIZE);
        $interrupted = $data === false && socket_last_error($conn) === EINTR;
        if ($interrupted) {
            socket_clear_error($conn);
        }
    } while ($interrupted);
    if ($data === false) {
        say("$client: read failed: " . socket_strerror(socket_last_error($conn)));
    } elseif ($data === '') {
        say("$client: closed before sending");
    } elseif (write_all($conn, ACK_PREFIX . $data . "\n")) {
        say("$client: answered " . strlen($data) . ' bytes');
    } else {
        say("$client: answer not sent: " . socket_strerror(socket_last_error($conn)));
    }
    socket_close($conn);
}
socket_close($sock);
say(($stopping ? 'stopped by SIGTERM after' : 'served') . " $served of " . CLIENTS . ' clients: exit 0');
exit(0);
