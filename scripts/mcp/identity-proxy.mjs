// A loopback proxy that names the caller for clients that cannot send
// headers of their own (the conformance suite): every request to it goes
// on to the host with X-User-ID and X-Tenant-ID added, everything else
// (the Host header included) as it came, and the answer streams back.
//
//   node identity-proxy.mjs <listen port> <host port>
import http from "node:http";

const [listenPort, hostPort] = process.argv.slice(2).map(Number);

http
  .createServer((req, res) => {
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: hostPort,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, "x-user-id": "conformance", "x-tenant-id": "default" },
      },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  })
  .listen(listenPort, "127.0.0.1");
