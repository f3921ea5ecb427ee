// Renders GraphiQL against this server's /graphql: queries over HTTP, subscriptions over a WebSocket to the same
// host (the page's CSP allows no other). React, ReactDOM and GraphiQL are globals from the UMD builds loaded before
// this file, all served by this server. Headers (Authorization: Bearer …) go in GraphiQL's header editor.
/* global React, ReactDOM, GraphiQL */
(function render() {
  const wsProtocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const fetcher = GraphiQL.createFetcher({
    url: `${window.location.origin}/graphql`,
    subscriptionUrl: `${wsProtocol}//${window.location.host}/graphql`,
  });
  ReactDOM.createRoot(document.getElementById('main')).render(
    React.createElement(GraphiQL, { fetcher, headerEditorEnabled: true, shouldPersistHeaders: true }),
  );
})();
