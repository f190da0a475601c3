import { useEffect, useState } from 'react';
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
import { useLiveSocket, useSessionCheck } from './hooks';

export function App() {
  useSessionCheck();
  useLiveSocket();
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return (
    <div className="flex h-full flex-col">
      <Header />
      <div className="flex min-h-0 flex-1">
        <aside aria-label="Controls" className="w-64 shrink-0 space-y-6 overflow-auto border-r border-slate-800 bg-slate-900 p-4">
          <SimulationControls />
          <Producer />
          <FaultControls />
        </aside>
        <main className="flex min-w-0 flex-1 flex-col gap-3 overflow-auto p-3">
          {/* A fixed height: React Flow fits the view once, so the box must not resize after. */}
          <div className="h-[62vh] min-h-[480px] shrink-0"><FlowGraph /></div>
          <Dashboard now={now} />
          <ConsumersPanel />
          <TopicsPanel />
          <LabPanel />
        </main>
      </div>
      <Footer />
      <DlqPanel />
      <Toasts />
      <TokenPrompt />
    </div>
  );
}
