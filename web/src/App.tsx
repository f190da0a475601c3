import { useEffect, useRef } from 'react';
import { ConsumersPanel } from './components/ConsumersPanel';
import { Dashboard } from './components/Dashboard';
import { DlqPanel } from './components/DlqPanel';
import { FaultControls } from './components/FaultControls';
import { FlowGraph } from './components/FlowGraph';
import { Footer } from './components/Footer';
import { Header } from './components/Header';
import { LabPanel } from './components/LabPanel';
import { Producer } from './components/Producer';
import { SimulationControls } from './components/SimulationControls';
import { Toasts } from './components/Toasts';
import { TokenPrompt } from './components/TokenPrompt';
import { TopicsPanel } from './components/TopicsPanel';
import { useLiveSocket, useNow, useSessionCheck } from './hooks';
import { hrefs, navigate, PAGES, useRoute, type Route } from './router';

function Overview() {
  const now = useNow();
  return (
    <>
      {/* A fixed height: React Flow fits the view once per tab, so the box must not resize after. */}
      <div className="h-[calc(100vh-12.5rem)] min-h-[560px] shrink-0"><FlowGraph /></div>
      <Dashboard now={now} />
    </>
  );
}

/** The page a route names. */
export function PageView({ route }: { route: Route }) {
  switch (route.page) {
    case 'topics':
      return <TopicsPanel selected={route.topic ?? null} onSelect={(t) => navigate(hrefs.topic(t))} />;
    case 'consumers':
      return <ConsumersPanel selected={route.group ?? null} onSelect={(g) => navigate(hrefs.group(g))} />;
    case 'lab':
      return <LabPanel />;
    default:
      return <Overview />;
  }
}

export function App() {
  useSessionCheck();
  useLiveSocket();
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const label = PAGES.find((p) => p.page === route.page)?.label ?? 'Overview';
  useEffect(() => {
    document.title = `edalab — ${label}`;
    main.current?.scrollTo?.({ top: 0 });
  }, [label]);
  return (
    <div className="flex h-full flex-col">
      <Header />
      <div className="flex min-h-0 flex-1">
        <aside aria-label="Controls" className="w-64 shrink-0 space-y-6 overflow-auto border-r border-slate-800 bg-slate-900 p-4">
          <SimulationControls />
          <Producer />
          <FaultControls />
        </aside>
        <main ref={main} aria-label={label} data-page={route.page} className="flex min-w-0 flex-1 flex-col gap-3 overflow-auto p-3">
          <PageView route={route} />
        </main>
      </div>
      <Footer />
      <DlqPanel />
      <Toasts />
      <TokenPrompt />
    </div>
  );
}
