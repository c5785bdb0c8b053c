// Net: HTTP requests from a scenario (S12: fetch the called number's settings,
// report to the portal, S21). A request is one HttpRequest command; its
// outcome arrives later as a Net.HttpRequestResult event with the same id.
//
// Like Voximplant, a request that was sent never fails with an exception: a
// network error, a timeout or a malformed URL yields a result whose code is 0
// or negative and whose error says what went wrong, so the Promise of
// httpRequestAsync always resolves and never rejects. Only a call that cannot
// be sent at all (no URL string, no callback) throws a TypeError.

// Most scenarios never make a request, so Net and everything behind it is
// built on the scenario's first use of the Net global (see publishLazy in
// voxengine.js): netLayer stays undefined until then, and a session pays for
// none of the functions below unless it needs them. A Net.HttpRequestResult
// that comes while it is undefined is of a request made through
// Engine.command directly, which onPhoneEvent handles (see dispatch).
let netLayer;

// netAPI builds the Net layer once and returns the Net object.
function netAPI() {
  if (netLayer !== undefined) {
    return netLayer.Net;
  }

  // Voximplant's internal result codes for requests that got no HTTP status.
  const httpUnknownError = -1;

  // Callbacks waiting for their Net.HttpRequestResult, by request id (a string
  // from host.newCallId).
  const pendingHttpRequests = Object.create(null);

  const Net = Object.freeze({
    // httpRequestAsync(url, options) resolves with an HttpRequestResult. A bad
    // call throws at once rather than rejecting, so the runtime logs it with
    // the scenario's stack like any other programming error.
    httpRequestAsync(url, options) {
      let resolve;
      const result = new Promise((r) => {
        resolve = r;
      });
      startHttpRequest("Net.httpRequestAsync", url, options, resolve);
      return result;
    },

    // httpRequest(url, callback, options) is the callback form: callback gets
    // the HttpRequestResult.
    httpRequest(url, callback, options) {
      if (typeof callback !== "function") {
        throw new TypeError(`Net.httpRequest: the callback must be a function, got ${typeof callback}`);
      }
      startHttpRequest("Net.httpRequest", url, options, callback);
    },
  });

  function startHttpRequest(caller, url, options, done) {
    if (typeof url !== "string" || url === "") {
      throw new TypeError(`${caller}: url must be a non-empty string, got ${JSON.stringify(url)}`);
    }
    const opts = options !== null && typeof options === "object" ? options : {};
    const id = host.newCallId();
    pendingHttpRequests[id] = done;
    host.command("HttpRequest", {
      id,
      url: withQueryParams(url, opts.params),
      method: opts.method === undefined || opts.method === null ? "GET" : String(opts.method).toUpperCase(),
      headers: requestHeaders(opts.headers),
      postData: opts.postData === undefined ? null : opts.postData,
      // Voximplant's timeout is in seconds; the engine protocol carries
      // milliseconds. null leaves the host's default (90 s) in force.
      timeout: typeof opts.timeout === "number" && opts.timeout > 0 ? Math.round(opts.timeout * 1000) : null,
    });
  }

  // withQueryParams appends options.params to the URL, as Voximplant allows
  // request parameters to be given either way.
  function withQueryParams(url, params) {
    if (params === null || typeof params !== "object") {
      return url;
    }
    const query = Object.keys(params)
      .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`)
      .join("&");
    if (query === "") {
      return url;
    }
    return url + (url.includes("?") ? "&" : "?") + query;
  }

  // requestHeaders accepts the header forms scenarios use (an object of
  // name → value as documented today; an array of "Name: value" strings or of
  // {name, value}/{key, value} pairs as older scenarios do) and gives the host
  // one form: an object of name → value, or null for none.
  function requestHeaders(headers) {
    if (headers === undefined || headers === null) {
      return null;
    }
    if (!Array.isArray(headers)) {
      return Object.assign({}, headers);
    }
    const out = {};
    for (const h of headers) {
      if (typeof h === "string") {
        const colon = h.indexOf(":");
        if (colon > 0) {
          out[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
        }
      } else if (h !== null && typeof h === "object") {
        out[String(firstDefined(h.name, h.key))] = String(h.value);
      }
    }
    return out;
  }

  // deliverHttpResult resolves the request a Net.HttpRequestResult answers.
  function deliverHttpResult(event) {
    const id = event.id;
    const done = typeof id === "string" ? pendingHttpRequests[id] : undefined;
    if (done === undefined) {
      // A request the scenario made through Engine.command directly: its own
      // onPhoneEvent handles the result.
      return;
    }
    delete pendingHttpRequests[id];
    done(httpRequestResult(event));
  }

  // httpRequestResult builds Voximplant's HttpRequestResult: code, text,
  // headers as a list of {key, value}, raw_headers, and error when it failed.
  function httpRequestResult(event) {
    const headers = responseHeaders(event.headers);
    const result = {
      code: typeof event.code === "number" ? event.code : httpUnknownError,
      text: event.text === undefined || event.text === null ? "" : String(event.text),
      headers,
      raw_headers: headers.map((h) => `${h.key}: ${h.value}\r\n`).join(""),
    };
    if (event.error !== undefined && event.error !== null && event.error !== "") {
      result.error = String(event.error);
    }
    return result;
  }

  function responseHeaders(headers) {
    if (headers === undefined || headers === null) {
      return [];
    }
    if (Array.isArray(headers)) {
      return headers.map((h) => ({ key: String(firstDefined(h.key, h.name)), value: String(h.value) }));
    }
    return Object.keys(headers).map((k) => ({ key: k, value: String(headers[k]) }));
  }

  function firstDefined(...values) {
    return values.find((v) => v !== undefined);
  }

  netLayer = { Net, deliverHttpResult };
  return Net;
}
